//! On a Windows host, tells the linker to delay-load the WinFsp DLL (see
//! `winfsp_wrs_build`); `winfsp_wrs::init()` finds it at run time. Elsewhere
//! nothing is linked: the crate's Windows glue is not compiled there.

fn main() {
    #[cfg(windows)]
    winfsp_wrs_build::build();
}
