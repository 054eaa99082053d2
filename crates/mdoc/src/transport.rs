//! Carrying the session's messages (SessionEstablishment, SessionData) over a byte stream.
//!
//! ISO 18013-5 carries them over BLE, NFC or Wi-Fi Aware, each with its own framing. eid's
//! command-line wallet, its desk and its tests use TCP (announced in the engagement, see
//! [`crate::engagement::RETRIEVAL_TCP`]) with the simplest framing that keeps messages
//! apart: a 4-byte big-endian length, then the CBOR message. Messages above
//! [`crate::MAX_LEN`] are refused before anything is read into memory.

use std::io::{self, Read, Write};

/// Sends and receives whole session messages.
pub trait Transport {
    /// Sends one message.
    fn send(&mut self, message: &[u8]) -> io::Result<()>;
    /// Receives the next message.
    fn receive(&mut self) -> io::Result<Vec<u8>>;
}

/// Length-prefixed messages over any stream (a `TcpStream`, for instance).
#[derive(Debug)]
pub struct Framed<S>(pub S);

/// The 4-byte length that goes before `message`, or an error if it is above
/// [`crate::MAX_LEN`]. For a transport of its own (an async one, say) with the same framing.
pub fn frame_header(message: &[u8]) -> io::Result<[u8; 4]> {
    u32::try_from(message.len())
        .ok()
        .filter(|&n| n as usize <= crate::MAX_LEN)
        .map(u32::to_be_bytes)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "message too large"))
}

/// The length a received 4-byte `header` announces, or an error if it is above
/// [`crate::MAX_LEN`] (before anything more is read).
pub fn frame_length(header: [u8; 4]) -> io::Result<usize> {
    let len = u32::from_be_bytes(header) as usize;
    if len > crate::MAX_LEN {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "the peer announced a {len}-byte message; at most {} are accepted",
                crate::MAX_LEN
            ),
        ));
    }
    Ok(len)
}

impl<S: Read + Write> Transport for Framed<S> {
    fn send(&mut self, message: &[u8]) -> io::Result<()> {
        self.0.write_all(&frame_header(message)?)?;
        self.0.write_all(message)?;
        self.0.flush()
    }

    fn receive(&mut self) -> io::Result<Vec<u8>> {
        let mut header = [0u8; 4];
        self.0.read_exact(&mut header)?;
        let mut message = vec![0u8; frame_length(header)?];
        self.0.read_exact(&mut message)?;
        Ok(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stream over two buffers: what was written, and what there is to read.
    struct Pipe(io::Cursor<Vec<u8>>, Vec<u8>);
    impl Read for Pipe {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.0.read(buf)
        }
    }
    impl Write for Pipe {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.1.write(buf)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn messages_keep_their_boundaries() {
        let mut out = Framed(Pipe(io::Cursor::new(Vec::new()), Vec::new()));
        out.send(b"first").unwrap();
        out.send(b"").unwrap();
        out.send(b"third").unwrap();
        let mut back = Framed(Pipe(io::Cursor::new(out.0.1), Vec::new()));
        assert_eq!(back.receive().unwrap(), b"first");
        assert_eq!(back.receive().unwrap(), b"");
        assert_eq!(back.receive().unwrap(), b"third");
        assert_eq!(
            back.receive().unwrap_err().kind(),
            io::ErrorKind::UnexpectedEof
        );
    }

    #[test]
    fn an_oversized_announcement_is_refused_before_reading() {
        let announced = u32::try_from(crate::MAX_LEN + 1).unwrap().to_be_bytes();
        let mut framed = Framed(Pipe(io::Cursor::new(announced.to_vec()), Vec::new()));
        assert_eq!(
            framed.receive().unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
    }
}
