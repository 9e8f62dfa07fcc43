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

/// rpod-monitor's acknowledgement of a ctl FIFO line: a line may end in a token after
/// conmon's three numbers (`1 24 80 TOKEN`), and once the monitor has acted on it (set the
/// terminal's size) it creates an empty file of this prefix and the token beside the FIFO.
/// So rpod knows that a resize sent before a start reached the terminal before the process
/// runs (conmon, which ignores the token, gives no such answer).
pub const CTL_ACK_PREFIX: &str = "ctl-ack-";

/// The longest token a ctl line may carry for an acknowledgement.
pub const CTL_ACK_TOKEN_MAX: usize = 32;

/// A token the monitor answers: 1 to 32 ASCII letters and digits, so that the file it names
/// stays beside the FIFO.
pub fn is_ctl_ack_token(token: &str) -> bool {
    (1..=CTL_ACK_TOKEN_MAX).contains(&token.len())
        && token.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The most log files `--log-max-files` keeps (the log and its rotated copies).
pub const LOG_FILES_MAX: u32 = 100;

/// The name of a k8s-file log's `n`th rotated copy (`ctr.log.1` the newest): rpod-monitor
/// renames the log to it at each rotation (`--log-max-files`), `logs` reads them back.
pub fn rotated_log_path(log: &std::path::Path, n: u32) -> std::path::PathBuf {
    let mut name = log.as_os_str().to_os_string();
    name.push(format!(".{n}"));
    std::path::PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotated_logs_are_named_after_the_log() {
        assert_eq!(
            rotated_log_path(std::path::Path::new("/b/ctr.log"), 2),
            std::path::Path::new("/b/ctr.log.2")
        );
    }

    #[test]
    fn every_exit_status_fits_the_delete_statuss_bound() {
        for status in [i32::MIN, -1, 0, 255, i32::MAX] {
            assert!(status.to_string().len() <= DELETE_STATUS_MAX);
        }
    }

    #[test]
    fn ack_tokens_cannot_leave_the_fifos_directory() {
        assert!(is_ctl_ack_token("a1B2"));
        assert!(is_ctl_ack_token(&"x".repeat(CTL_ACK_TOKEN_MAX)));
        for bad in ["", "../x", "a/b", "a.b", "a b", "é"] {
            assert!(!is_ctl_ack_token(bad), "{bad}");
        }
        assert!(!is_ctl_ack_token(&"x".repeat(CTL_ACK_TOKEN_MAX + 1)));
    }

    #[test]
    fn a_largest_record_fills_a_64_kib_read() {
        assert_eq!(1 + LARGEST_RECORD_PAYLOAD, 64 * 1024);
        const { assert!(RECORD_PAYLOAD < LARGEST_RECORD_PAYLOAD) };
    }
}
