//! Reads, writes and size changes: WinFsp's request shapes → byte ranges for
//! the operations layer.

use crate::status::{NtStatus, STATUS_END_OF_FILE};

/// Where a WinFsp write goes (mirrors `winfsp_wrs::WriteMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteRequest {
    /// At `offset`, extending the file as needed.
    At(u64),
    /// At `offset`, never extending the file (paging I/O from the cache
    /// manager: the size was set separately).
    Constrained(u64),
    /// At the current end of file (FILE_APPEND_DATA, offset -1).
    Append,
}

/// The `(offset, length)` to write for `len` bytes, given the current size.
/// A constrained write at or past the end writes nothing.
pub fn write_span(request: WriteRequest, file_size: u64, len: usize) -> (u64, usize) {
    match request {
        WriteRequest::At(offset) => (offset, len),
        WriteRequest::Append => (file_size, len),
        WriteRequest::Constrained(offset) => {
            let room = file_size.saturating_sub(offset);
            let len = usize::try_from(room).map_or(len, |room| len.min(room));
            (offset, len)
        }
    }
}

/// The answer to a read of `requested` bytes that produced `got`: WinFsp
/// wants STATUS_END_OF_FILE, not an empty success, for a read at or past the end.
pub fn read_outcome(got: usize, requested: usize) -> Result<usize, NtStatus> {
    if got == 0 && requested > 0 {
        Err(STATUS_END_OF_FILE)
    } else {
        Ok(got)
    }
}

/// The new size for SetFileSize, or `None` when nothing changes.
/// `allocation`: the caller set the allocation size, which only shrinks a
/// file when it is below the current size (space is not preallocated: the
/// ciphertext grows with the data).
pub fn size_change(new_size: u64, allocation: bool, current: u64) -> Option<u64> {
    if new_size == current || (allocation && new_size > current) {
        None
    } else {
        Some(new_size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_append_writes() {
        assert_eq!(write_span(WriteRequest::At(10), 5, 100), (10, 100));
        assert_eq!(write_span(WriteRequest::At(0), 0, 0), (0, 0));
        assert_eq!(write_span(WriteRequest::Append, 1234, 10), (1234, 10));
    }

    #[test]
    fn constrained_writes_never_extend() {
        assert_eq!(write_span(WriteRequest::Constrained(0), 100, 50), (0, 50));
        assert_eq!(write_span(WriteRequest::Constrained(80), 100, 50), (80, 20));
        assert_eq!(
            write_span(WriteRequest::Constrained(100), 100, 50),
            (100, 0)
        );
        assert_eq!(
            write_span(WriteRequest::Constrained(500), 100, 50),
            (500, 0)
        );
        assert_eq!(
            write_span(WriteRequest::Constrained(0), u64::MAX, 4096),
            (0, 4096)
        );
    }

    #[test]
    fn reads_at_the_end() {
        assert_eq!(read_outcome(0, 4096), Err(STATUS_END_OF_FILE));
        assert_eq!(read_outcome(10, 4096), Ok(10));
        assert_eq!(read_outcome(4096, 4096), Ok(4096));
        assert_eq!(read_outcome(0, 0), Ok(0));
    }

    #[test]
    fn size_changes() {
        assert_eq!(size_change(10, false, 10), None);
        assert_eq!(size_change(0, false, 10), Some(0));
        assert_eq!(size_change(20, false, 10), Some(20));
        // Allocation: shrinks, never grows.
        assert_eq!(size_change(4, true, 10), Some(4));
        assert_eq!(size_change(4096, true, 10), None);
        assert_eq!(size_change(10, true, 10), None);
    }
}
