/// Why the store could not open, read or write its SQLite file; each description says what to do about it.
public enum StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The CLI asked for a database file that does not exist.
    case notFound(path: String)
    /// SQLite could not open (or create) the file.
    case open(path: String, reason: String)
    /// A schema migration failed; the file is left at its previous version.
    case migration(path: String, reason: String)
    /// The file's schema was written by a newer or an older Omen, or by another program.
    case incompatibleSchema(path: String, reason: String)
    /// A write transaction failed and was rolled back; nothing of the batch was stored.
    case write(path: String, reason: String)
    /// A query failed.
    case read(path: String, reason: String)
    /// A write was attempted on a store opened with `openReadOnly`.
    case readOnly(path: String)

    public var description: String {
        switch self {
        case .notFound(let path):
            return "no database at \(path); start the daemon or pass --database"
        case .open(let path, let reason):
            return "could not open the database at \(path) (\(reason)); check the path, that this user may read "
                + "the file, and (for the daemon) write its folder"
        case .migration(let path, let reason):
            return "could not update the schema of the database at \(path) (\(reason)); the file is unchanged, "
                + "check free disk space and permissions, or move the file away to start afresh"
        case .incompatibleSchema(let path, let reason):
            return "the database at \(path) cannot be used (\(reason))"
        case .write(let path, let reason):
            return "could not write to the database at \(path) (\(reason)); the batch was rolled back, check free "
                + "disk space and that no other process holds the write lock"
        case .read(let path, let reason):
            return "could not read the database at \(path) (\(reason)); check that it is an Omen database and "
                + "readable by this user"
        case .readOnly(let path):
            return "the database at \(path) was opened read-only; open it with Store(path:) to write"
        }
    }
}
