// Daemon module: configuration, shards, trainer pool, writer, lifecycle.
