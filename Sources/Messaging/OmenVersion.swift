/// The version of this build of Omen: `omen --version`, the daemon's start line, `/metrics` and every alert.
///
/// Raised by hand with each release (the source is the build's only input: no git is needed to build).
public enum OmenVersion {
    public static let string = "0.13.0"
}
