//! The vault library: command line composition.
