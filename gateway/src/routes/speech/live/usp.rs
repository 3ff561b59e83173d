//! The Speech SDK's message framing over WebSocket (docs/design/speech-sdk-websocket.md).
//!
//! Text frame: `Name:value` header lines separated by CRLF, an empty line, then the body.
//! Binary frame: a big-endian u16 header length, the header lines (each ending in CRLF), then the
//! body. Written here because no crate speaks it; it is small and fully tested below.

use std::fmt;

/// Longest header block the server reads (the SDK's are under 300 bytes).
const MAX_HEADER_BYTES: usize = 8 * 1024;

/// A message from the client: its headers and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message<'a> {
    headers: Vec<(&'a str, &'a str)>,
    pub body: &'a [u8],
}

impl<'a> Message<'a> {
    /// A header's value; names are matched without regard to case (clients vary).
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| *v)
    }

    /// The `Path` header (what the message is), lowercased.
    pub fn path(&self) -> String {
        self.header("Path").unwrap_or_default().to_ascii_lowercase()
    }

    pub fn request_id(&self) -> Option<&'a str> {
        self.header("X-RequestId").filter(|v| !v.is_empty())
    }
}

/// A frame that does not follow the framing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameError(pub &'static str);

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

fn parse_headers(block: &str) -> Result<Vec<(&str, &str)>, FrameError> {
    let mut headers = Vec::new();
    for line in block.split("\r\n").filter(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':').ok_or(FrameError("a header line has no colon"))?;
        headers.push((name.trim(), value.trim()));
    }
    Ok(headers)
}

/// Reads a text frame.
pub fn parse_text(frame: &str) -> Result<Message<'_>, FrameError> {
    let (block, body) = frame.split_once("\r\n\r\n").unwrap_or((frame, ""));
    if block.len() > MAX_HEADER_BYTES {
        return Err(FrameError("the header block is too long"));
    }
    Ok(Message { headers: parse_headers(block)?, body: body.as_bytes() })
}

/// Reads a binary frame.
pub fn parse_binary(frame: &[u8]) -> Result<Message<'_>, FrameError> {
    let [high, low, rest @ ..] = frame else { return Err(FrameError("a binary frame shorter than its length field")) };
    let len = usize::from(u16::from_be_bytes([*high, *low]));
    if len > rest.len() {
        return Err(FrameError("the header length is past the end of the frame"));
    }
    if len > MAX_HEADER_BYTES {
        return Err(FrameError("the header block is too long"));
    }
    let block = std::str::from_utf8(&rest[..len]).map_err(|_| FrameError("the headers are not text"))?;
    Ok(Message { headers: parse_headers(block)?, body: &rest[len..] })
}

/// The current time as the SDK writes it (UTC, milliseconds, `Z`).
fn timestamp() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        now.millisecond()
    )
}

/// A text message to the client. The SDK matches `Path` and `X-RequestId` by exact name and
/// drops a turn message whose request id is not the one it sent.
pub fn text(path: &str, request_id: &str, body: &serde_json::Value) -> String {
    format!(
        "Path: {path}\r\nX-RequestId: {request_id}\r\nX-Timestamp: {}\r\nContent-Type: application/json; charset=utf-8\r\n\r\n{body}",
        timestamp()
    )
}

/// A binary message to the client (audio).
pub fn binary(path: &str, request_id: &str, content_type: Option<&str>, body: &[u8]) -> Vec<u8> {
    let mut headers = format!("Path: {path}\r\nX-RequestId: {request_id}\r\nX-Timestamp: {}\r\n", timestamp());
    if let Some(ct) = content_type {
        headers.push_str(&format!("Content-Type: {ct}\r\n"));
    }
    // Our header block is a few short lines: far below u16::MAX.
    let len = u16::try_from(headers.len()).unwrap_or(u16::MAX);
    let mut out = Vec::with_capacity(2 + headers.len() + body.len());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(headers.as_bytes());
    out.extend_from_slice(body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_sdks_text_and_binary_frames() {
        let text_frame =
            "X-Timestamp:2026-12-06T04:27:05.223Z\r\nPath:speech.context\r\nX-RequestId:bd9d\r\n\r\n{\"a\":1}";
        let message = parse_text(text_frame).expect("valid");
        assert_eq!(message.path(), "speech.context");
        assert_eq!(message.request_id(), Some("bd9d"));
        assert_eq!(message.body, b"{\"a\":1}");

        let headers = "Path:audio\r\nX-RequestId:bd9d\r\nX-StreamId:1\r\n";
        let mut frame = (headers.len() as u16).to_be_bytes().to_vec();
        frame.extend_from_slice(headers.as_bytes());
        frame.extend_from_slice(&[1, 2, 3]);
        let message = parse_binary(&frame).expect("valid");
        assert_eq!((message.path(), message.header("x-streamid")), ("audio".to_string(), Some("1")));
        assert_eq!(message.body, &[1, 2, 3]);
    }

    #[test]
    fn refuses_frames_that_lie_about_their_length() {
        assert!(parse_binary(&[0]).is_err());
        assert!(parse_binary(&[0, 10, b'P']).is_err());
        assert!(parse_binary(&[0, 3, 0xff, 0xfe, 0xfd]).is_err());
        assert!(parse_text("no colon here\r\n\r\nbody").is_err());
        let long = format!("Path:{}\r\n\r\n", "x".repeat(MAX_HEADER_BYTES));
        assert!(parse_text(&long).is_err());
    }

    #[test]
    fn writes_frames_the_sdk_reads() {
        let frame = binary("audio", "abc", None, &[9, 9]);
        let message = parse_binary(&frame).expect("round trip");
        assert_eq!(
            (message.header("Path"), message.request_id(), message.body),
            (Some("audio"), Some("abc"), &[9u8, 9][..])
        );
        let len = usize::from(u16::from_be_bytes([frame[0], frame[1]]));
        assert!(frame[2..2 + len].ends_with(b"\r\n"), "the SDK drops a header block without a final CRLF");
        let text_frame = text("turn.start", "abc", &serde_json::json!({}));
        assert!(text_frame.starts_with("Path: turn.start\r\nX-RequestId: abc\r\n"));
        assert!(text_frame.ends_with("\r\n\r\n{}"));
    }
}
