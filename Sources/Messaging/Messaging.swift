// Messaging: the libzmq wrapper (ZMQ.swift), ingest wire formats in (PayloadParser and its scanners), points out
// (PointEncoder), alerts out and back (AlertCodec), and the library side of `omen publish` / `omen tail`.
