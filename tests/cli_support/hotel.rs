//! The namespaces of `tests/servers/hotel-net.sh` (a hotel client, a cloud server and the link
//! between them) as a test's own instance.

use super::ServerScript;

/// hotel-net.sh namespaces of one instance; `down` (and the state folder removed) when dropped.
pub struct HotelNet {
    pub script: ServerScript,
    state: String,
}

impl HotelNet {
    /// Brings up instance `inst` (namespaces `vt-hotel-INST` and `vt-cloud-INST`) with its
    /// state in `state`, the link unimpaired.
    pub fn up(inst: &str, state: String) -> HotelNet {
        let net = HotelNet {
            script: ServerScript::new(
                "hotel-net.sh",
                &[
                    ("VAULT_TEST_INSTANCE", inst),
                    ("VAULT_TEST_STATE_DIR", state.as_str()),
                ],
            ),
            state,
        };
        net.script.ok(&["up", "0", "0", "0"]);
        net
    }
}

impl Drop for HotelNet {
    fn drop(&mut self) {
        let _ = self.script.run(&["down"]);
        let _ = std::fs::remove_dir_all(&self.state);
    }
}
