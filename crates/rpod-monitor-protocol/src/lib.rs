//! What rpod (rpod-oci's monitor client) and rpod-monitor agree on beyond conmon's own
//! protocol: the names, markers and sizes of rpod-monitor's own options
//! (`docs/monitor.md`). Both sides take them from here so that they cannot drift apart; the
//! crate has no dependencies, so the monitor stays as small as it was.
#![forbid(unsafe_code)]

/// What a waiter writes into the `--exit-command-handover` file once it has handled the
/// container's exit: the monitor then skips the exit command.
pub const HANDOVER_HANDLED: &[u8] = b"handled";

/// The file in the persist directory that announces `--delete-at-exit`'s delete: empty and
/// locked while the runtime's delete runs, then holding its exit status.
pub const DELETE_ANNOUNCEMENT: &str = "delete";

/// The most an exit status in the delete's announcement takes (`-2147483648` is 11 bytes):
/// a reader reads no more than this.
pub const DELETE_STATUS_MAX: usize = 16;

/// Largest payload of one output record of conmon's attach socket (its STDIO_BUF_SIZE),
/// what rpod-monitor sends unless `--attach-record-size` asks for more.
pub const RECORD_PAYLOAD: usize = 8192;

/// The most `--attach-record-size` may ask for: a record (a stream byte and the payload)
/// then fills a 64 KiB read.
pub const LARGEST_RECORD_PAYLOAD: usize = 64 * 1024 - 1;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_exit_status_fits_the_delete_statuss_bound() {
        for status in [i32::MIN, -1, 0, 255, i32::MAX] {
            assert!(status.to_string().len() <= DELETE_STATUS_MAX);
        }
    }

    #[test]
    fn a_largest_record_fills_a_64_kib_read() {
        assert_eq!(1 + LARGEST_RECORD_PAYLOAD, 64 * 1024);
        const { assert!(RECORD_PAYLOAD < LARGEST_RECORD_PAYLOAD) };
    }
}
