//! The `Content-Range` of a `206 Partial Content` answer, checked against
//! the range asked for: a hostile or broken server sending another range, or
//! a body longer or shorter than it announced, is an error, never bytes at
//! the wrong offset or a silently short read.

use reqwest::StatusCode;

use crate::http::Failure;

/// `bytes START-LAST/TOTAL` as `start..end` (end exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ContentRange {
    pub start: u64,
    pub end: u64,
    /// The object's length; `None` for `*`.
    pub total: Option<u64>,
}

impl ContentRange {
    /// Parses a `Content-Range` value; `None` if it is not a satisfied byte range.
    pub(crate) fn parse(value: &str) -> Option<ContentRange> {
        let (range, total) = value.strip_prefix("bytes ")?.split_once('/')?;
        let (first, last) = range.split_once('-')?;
        let num = |s: &str| {
            (!s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse::<u64>().ok())
                .flatten()
        };
        let (start, last) = (num(first)?, num(last)?);
        let total = if total == "*" {
            None
        } else {
            Some(num(total)?)
        };
        if last < start || total.is_some_and(|t| last >= t) {
            return None;
        }
        Some(ContentRange {
            start,
            end: last.checked_add(1)?,
            total,
        })
    }

    /// The range of a `206` answer, also checked against its `Content-Length`.
    pub(crate) fn of(response: &reqwest::Response) -> Result<ContentRange, Failure> {
        if response.status() != StatusCode::PARTIAL_CONTENT {
            return Err(Failure::Protocol(format!(
                "a ranged GET answered {}",
                response.status().as_u16()
            )));
        }
        let value = response
            .headers()
            .get(reqwest::header::CONTENT_RANGE)
            .and_then(|v| v.to_str().ok());
        let Some(range) = value.and_then(ContentRange::parse) else {
            return Err(Failure::Protocol(
                "a ranged GET answered 206 without a valid Content-Range".into(),
            ));
        };
        if let Some(n) = response.content_length()
            && n != range.end - range.start
        {
            return Err(Failure::Protocol(format!(
                "a ranged GET announced {n} bytes for a range of {}",
                range.end - range.start
            )));
        }
        Ok(range)
    }

    /// Checks this is the answer to `bytes=offset-(offset+len-1)`: it starts
    /// there and reaches the asked end, or the object's end before it.
    /// Returns the byte count the body must have.
    pub(crate) fn expect(&self, offset: u64, len: usize) -> Result<usize, Failure> {
        let asked_end = offset.saturating_add(len as u64);
        let full = match self.total {
            Some(t) => self.end == asked_end.min(t),
            None => self.end == asked_end,
        };
        if self.start != offset || !full {
            return Err(Failure::Protocol(format!(
                "the server sent bytes {}-{} for bytes={offset}-{}",
                self.start,
                self.end - 1,
                asked_end - 1
            )));
        }
        usize::try_from(self.end - self.start)
            .map_err(|_| Failure::Protocol("a range too large for memory".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_satisfied_ranges_only() {
        let r = ContentRange::parse("bytes 10-19/100").unwrap();
        assert_eq!((r.start, r.end, r.total), (10, 20, Some(100)));
        assert_eq!(ContentRange::parse("bytes 0-0/*").unwrap().total, None);
        for bad in [
            "bytes */100",
            "bytes 5-4/100",
            "bytes 0-100/100",
            "bytes -1-3/9",
            "items 0-1/2",
            "bytes 0-1",
            "bytes 0-99999999999999999999999/1",
        ] {
            assert_eq!(ContentRange::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn another_range_or_a_short_one_is_refused() {
        let r = |s| ContentRange::parse(s).unwrap();
        assert_eq!(r("bytes 10-19/100").expect(10, 10).unwrap(), 10);
        assert_eq!(
            r("bytes 10-99/100").expect(10, 500).unwrap(),
            90,
            "to the end"
        );
        assert!(
            r("bytes 11-19/100").expect(10, 10).is_err(),
            "another start"
        );
        assert!(r("bytes 10-15/100").expect(10, 10).is_err(), "short");
        assert!(
            r("bytes 10-15/*").expect(10, 10).is_err(),
            "short, length unknown"
        );
        assert!(r("bytes 10-29/100").expect(10, 10).is_err(), "longer");
    }
}
