// The building blocks of the per-section key tables (`*+Reader.swift`): each key says its TOML name, the
// field it fills and what values it accepts, so that adding a key to a section is one line in its table.
import Detection

/// Where a value is being read, for error messages.
struct ValueContext {
    let file: String
    /// Full dotted key, e.g. `training.window`.
    let key: String

    func error(_ kind: ConfigError.Kind, _ value: TOMLValue, _ reason: String) -> ConfigError {
        ConfigError(kind: kind, file: file, line: value.line, key: key, reason: reason)
    }

    func mismatch(_ kind: ConfigError.Kind, _ value: TOMLValue, expected: String) -> ConfigError {
        error(kind, value, "must be \(expected), got \(value.rendered)")
    }
}

/// A numeric interval with open or closed ends, which describes itself in the words of an error message.
struct NumberRange: Equatable {
    var lower: Double
    var lowerOpen = false
    var upper: Double
    var upperOpen = false

    static func closed(_ lower: Double, _ upper: Double) -> NumberRange {
        NumberRange(lower: lower, upper: upper)
    }

    /// (lower, upper]
    static func above(_ lower: Double, atMost upper: Double) -> NumberRange {
        NumberRange(lower: lower, lowerOpen: true, upper: upper)
    }

    /// [lower, upper)
    static func from(_ lower: Double, below upper: Double) -> NumberRange {
        NumberRange(lower: lower, upper: upper, upperOpen: true)
    }

    func contains(_ x: Double) -> Bool {
        (lowerOpen ? x > lower : x >= lower) && (upperOpen ? x < upper : x <= upper)
    }

    func describe(_ format: (Double) -> String = NumberRange.format) -> String {
        switch (lowerOpen, upperOpen) {
        case (false, false): return "between \(format(lower)) and \(format(upper))"
        case (true, false): return "greater than \(format(lower)) and at most \(format(upper))"
        case (false, true): return "at least \(format(lower)) and less than \(format(upper))"
        case (true, true): return "greater than \(format(lower)) and less than \(format(upper))"
        }
    }

    /// Integral values without a fraction (1000000, not 1000000.0); others as Swift prints them.
    static func format(_ x: Double) -> String {
        if x == x.rounded(), abs(x) < 1e15 { return String(Int64(x)) }
        return "\(x)"
    }
}

/// How one TOML key of a table is read into a field of `Root`.
struct ConfigKey<Root> {
    let name: String
    /// What the key accepts, as `omen replay --help` lists it (the errors say the same).
    let expects: String
    /// A true/false key: on a command line, `--name` alone sets it.
    let isFlag: Bool
    let apply: (inout Root, TOMLValue, ValueContext) throws(ConfigError) -> Void

    init(_ name: String, expects: String = "", isFlag: Bool = false,
         apply: @escaping (inout Root, TOMLValue, ValueContext) throws(ConfigError) -> Void) {
        self.name = name
        self.expects = expects
        self.isFlag = isFlag
        self.apply = apply
    }

    /// The same key reading into the `Root` at `path` of a larger value (a section's key as a detector setting).
    func lifted<Outer>(_ path: WritableKeyPath<Outer, Root>) -> ConfigKey<Outer> {
        let apply = self.apply
        return ConfigKey<Outer>(name, expects: expects, isFlag: isFlag) {
            (outer: inout Outer, value: TOMLValue, ctx: ValueContext) throws(ConfigError) in
            try apply(&outer[keyPath: path], value, ctx)
        }
    }

    // MARK: Integers

    static func integer<T: FixedWidthInteger>(_ name: String, _ field: WritableKeyPath<Root, T>,
                                              _ range: ClosedRange<T>) -> ConfigKey {
        ConfigKey(name, expects: integerExpectation(range)) {
            (root: inout Root, value: TOMLValue, ctx: ValueContext) throws(ConfigError) in
            root[keyPath: field] = try readInteger(value, range, ctx)
        }
    }

    static func optionalInteger<T: FixedWidthInteger>(_ name: String, _ field: WritableKeyPath<Root, T?>,
                                                      _ range: ClosedRange<T>) -> ConfigKey {
        ConfigKey(name, expects: integerExpectation(range)) {
            (root: inout Root, value: TOMLValue, ctx: ValueContext) throws(ConfigError) in
            root[keyPath: field] = try readInteger(value, range, ctx)
        }
    }

    // MARK: Floating point

    static func number(_ name: String, _ field: WritableKeyPath<Root, Double>, _ range: NumberRange) -> ConfigKey {
        ConfigKey(name, expects: numberExpectation(range)) {
            (root: inout Root, value: TOMLValue, ctx: ValueContext) throws(ConfigError) in
            root[keyPath: field] = try readDouble(value, range, ctx)
        }
    }

    static func optionalNumber(_ name: String, _ field: WritableKeyPath<Root, Double?>, _ range: NumberRange) -> ConfigKey {
        ConfigKey(name, expects: numberExpectation(range)) {
            (root: inout Root, value: TOMLValue, ctx: ValueContext) throws(ConfigError) in
            root[keyPath: field] = try readDouble(value, range, ctx)
        }
    }

    static func number(_ name: String, _ field: WritableKeyPath<Root, Float>, _ range: NumberRange) -> ConfigKey {
        ConfigKey(name, expects: numberExpectation(range)) {
            (root: inout Root, value: TOMLValue, ctx: ValueContext) throws(ConfigError) in
            let double = try readDouble(value, range, ctx)
            // Round once from the decimal text, so "3e-3" gives exactly the Float literal 3e-3.
            var float = Float(double)
            if case .float(_, let text) = value.kind, let direct = Float(String(text.filter { $0 != "_" })) {
                float = direct
            }
            guard float.isFinite, range.contains(Double(float)) else {
                throw ctx.mismatch(.outOfRange, value, expected: "a number \(range.describe()) in single precision")
            }
            root[keyPath: field] = float
        }
    }

    // MARK: Durations

    /// Seconds: a number, or a string with a unit (`ms`, `s`, `m`, `h`, `d`).
    static func duration(_ name: String, _ field: WritableKeyPath<Root, Double>, _ range: NumberRange) -> ConfigKey {
        ConfigKey(name, expects: durationExpectation(range)) {
            (root: inout Root, value: TOMLValue, ctx: ValueContext) throws(ConfigError) in
            root[keyPath: field] = try readDuration(value, range, ctx)
        }
    }

    // MARK: Booleans, choices, strings

    static func flag(_ name: String, _ field: WritableKeyPath<Root, Bool>) -> ConfigKey {
        ConfigKey(name, expects: "true or false", isFlag: true) {
            (root: inout Root, value: TOMLValue, ctx: ValueContext) throws(ConfigError) in
            guard case .bool(let b) = value.kind else {
                throw ctx.mismatch(.wrongType, value, expected: "true or false")
            }
            root[keyPath: field] = b
        }
    }

    static func choice<E: RawRepresentable & CaseIterable>(_ name: String, _ field: WritableKeyPath<Root, E>) -> ConfigKey
    where E.RawValue == String {
        let allowed = E.allCases.map { TOMLValue.quoted($0.rawValue) }.joined(separator: ", ")
        return ConfigKey(name, expects: "one of \(allowed)") {
            (root: inout Root, value: TOMLValue, ctx: ValueContext) throws(ConfigError) in
            guard case .string(let s) = value.kind else {
                throw ctx.mismatch(.wrongType, value, expected: "one of \(allowed)")
            }
            guard let e = E(rawValue: s) else {
                throw ctx.mismatch(.badChoice, value, expected: "one of \(allowed)")
            }
            root[keyPath: field] = e
        }
    }

    /// One of the cases, or `none` for nil.
    static func choice<E: RawRepresentable & CaseIterable>(_ name: String, _ field: WritableKeyPath<Root, E?>,
                                                           none: String) -> ConfigKey where E.RawValue == String {
        let allowed = ([none] + E.allCases.map(\.rawValue)).map { TOMLValue.quoted($0) }.joined(separator: ", ")
        return ConfigKey(name, expects: "one of \(allowed)") {
            (root: inout Root, value: TOMLValue, ctx: ValueContext) throws(ConfigError) in
            guard case .string(let s) = value.kind else {
                throw ctx.mismatch(.wrongType, value, expected: "one of \(allowed)")
            }
            if s == none {
                root[keyPath: field] = nil
                return
            }
            guard let e = E(rawValue: s) else {
                throw ctx.mismatch(.badChoice, value, expected: "one of \(allowed)")
            }
            root[keyPath: field] = e
        }
    }

    static func string(_ name: String, _ field: WritableKeyPath<Root, String>, allowEmpty: Bool = false) -> ConfigKey {
        ConfigKey(name) { (root: inout Root, value: TOMLValue, ctx: ValueContext) throws(ConfigError) in
            root[keyPath: field] = try readString(value, allowEmpty: allowEmpty, ctx)
        }
    }

    static func strings(_ name: String, _ field: WritableKeyPath<Root, [String]>, minCount: Int,
                        allowEmptyStrings: Bool) -> ConfigKey {
        ConfigKey(name) { (root: inout Root, value: TOMLValue, ctx: ValueContext) throws(ConfigError) in
            root[keyPath: field] = try readStrings(value, minCount: minCount, allowEmptyStrings: allowEmptyStrings, ctx)
        }
    }

    /// One ZeroMQ endpoint (`tcp://host:port`, `ipc://path`, `inproc://name`).
    static func endpoint(_ name: String, _ field: WritableKeyPath<Root, String>) -> ConfigKey {
        ConfigKey(name) { (root: inout Root, value: TOMLValue, ctx: ValueContext) throws(ConfigError) in
            let s = try readString(value, allowEmpty: true, ctx)
            if let problem = EndpointSyntax.problem(with: s) {
                throw ctx.error(.badEndpoint, value, "\(problem), got \(value.rendered)")
            }
            root[keyPath: field] = s
        }
    }

    static func endpoints(_ name: String, _ field: WritableKeyPath<Root, [String]>) -> ConfigKey {
        ConfigKey(name) { (root: inout Root, value: TOMLValue, ctx: ValueContext) throws(ConfigError) in
            guard case .array(let items) = value.kind else {
                throw ctx.mismatch(.wrongType, value, expected: "an array of ZeroMQ endpoints such as [\"tcp://127.0.0.1:7002\"]")
            }
            var out: [String] = []
            for item in items {
                guard case .string(let s) = item.kind else {
                    throw ctx.mismatch(.wrongType, item, expected: "a string (a ZeroMQ endpoint)")
                }
                if let problem = EndpointSyntax.problem(with: s) {
                    throw ctx.error(.badEndpoint, item, "\(problem), got \(item.rendered)")
                }
                if out.contains(s) {
                    throw ctx.error(.duplicate, item, "lists \(item.rendered) twice")
                }
                out.append(s)
            }
            root[keyPath: field] = out
        }
    }
}

// MARK: - Readers shared by the key kinds

func integerExpectation<T: FixedWidthInteger>(_ range: ClosedRange<T>) -> String {
    "an integer between \(range.lowerBound) and \(range.upperBound)"
}

func numberExpectation(_ range: NumberRange) -> String { "a number \(range.describe())" }

func durationExpectation(_ range: NumberRange) -> String {
    "a duration \(range.describe(DurationText.format)) (a number of seconds, or a string like \"250ms\", \"60s\", \"15m\", \"1h\")"
}

func readInteger<T: FixedWidthInteger>(_ value: TOMLValue, _ range: ClosedRange<T>, _ ctx: ValueContext) throws(ConfigError) -> T {
    let expected = integerExpectation(range)
    guard case .integer(let i) = value.kind else {
        throw ctx.mismatch(.wrongType, value, expected: expected)
    }
    guard let t = T(exactly: i), range.contains(t) else {
        throw ctx.mismatch(.outOfRange, value, expected: expected)
    }
    return t
}

func readDouble(_ value: TOMLValue, _ range: NumberRange, _ ctx: ValueContext) throws(ConfigError) -> Double {
    let expected = numberExpectation(range)
    let x: Double
    switch value.kind {
    case .integer(let i): x = Double(i)
    case .float(let d, _): x = d
    default: throw ctx.mismatch(.wrongType, value, expected: expected)
    }
    guard range.contains(x) else { throw ctx.mismatch(.outOfRange, value, expected: expected) }
    return x
}

func readString(_ value: TOMLValue, allowEmpty: Bool, _ ctx: ValueContext) throws(ConfigError) -> String {
    guard case .string(let s) = value.kind else {
        throw ctx.mismatch(.wrongType, value, expected: "a string")
    }
    if !allowEmpty, s.isEmpty { throw ctx.error(.badValue, value, "must not be empty") }
    if s.utf8.contains(0) { throw ctx.error(.badValue, value, "must not contain a NUL character (\\u0000)") }
    return s
}

func readStrings(_ value: TOMLValue, minCount: Int, allowEmptyStrings: Bool,
                 _ ctx: ValueContext) throws(ConfigError) -> [String] {
    guard case .array(let items) = value.kind else {
        throw ctx.mismatch(.wrongType, value, expected: "an array of strings")
    }
    var out: [String] = []
    for item in items {
        out.append(try readString(item, allowEmpty: allowEmptyStrings, ctx))
    }
    if out.count < minCount {
        throw ctx.error(.badValue, value, "must list at least \(minCount) string\(minCount == 1 ? "" : "s"), got []")
    }
    return out
}

func readDuration(_ value: TOMLValue, _ range: NumberRange, _ ctx: ValueContext) throws(ConfigError) -> Double {
    let expected = durationExpectation(range)
    let seconds: Double
    switch value.kind {
    case .integer(let i): seconds = Double(i)
    case .float(let d, _): seconds = d
    case .string(let s):
        guard let parsed = DurationText.parse(s) else { throw ctx.mismatch(.badDuration, value, expected: expected) }
        seconds = parsed
    default:
        throw ctx.mismatch(.wrongType, value, expected: expected)
    }
    guard range.contains(seconds) else { throw ctx.mismatch(.outOfRange, value, expected: expected) }
    return seconds
}

/// The shape of a ZeroMQ endpoint, checked before any socket is made so that a typo names its line.
enum EndpointSyntax {
    /// Longest `ipc://` path libzmq accepts (sockaddr_un.sun_path less its NUL).
    static let maxIPCPath = 107

    /// A sentence saying what is wrong with `endpoint`, or nil when it looks like a valid endpoint.
    static func problem(with endpoint: String) -> String? {
        let example = "a ZeroMQ endpoint like \"tcp://127.0.0.1:7001\", \"ipc:///run/omen/ingest\" or \"inproc://name\""
        if endpoint.contains(where: { $0.isWhitespace }) { return "must be \(example) without spaces" }
        let parts = endpoint.split(separator: "://", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else { return "must be \(example)" }
        let scheme = parts[0]
        let address = parts[1]
        switch scheme {
        case "tcp":
            guard let colon = address.lastIndex(of: ":") else {
                return "must be tcp://HOST:PORT (the port is missing)"
            }
            let host = address[..<colon]
            let port = address[address.index(after: colon)...]
            if host.isEmpty { return "must be tcp://HOST:PORT (the host is missing; * binds all interfaces)" }
            if host.hasPrefix("[") != host.hasSuffix("]") { return "must write an IPv6 host in brackets, like tcp://[::1]:7001" }
            if !host.hasPrefix("["), host.contains(":") { return "must write an IPv6 host in brackets, like tcp://[::1]:7001" }
            if host.contains("/") { return "must be tcp://HOST:PORT (the host contains /)" }
            if port == "*" { return nil }
            guard let p = Int(port), (1...65535).contains(p), port.allSatisfy({ $0.isASCII && $0.isNumber }) else {
                return "must be tcp://HOST:PORT with a port between 1 and 65535"
            }
            return nil
        case "ipc":
            if address.isEmpty { return "must be ipc://PATH (the path is missing)" }
            if address.utf8.count > maxIPCPath { return "must have an ipc:// path of at most \(maxIPCPath) bytes" }
            return nil
        case "inproc":
            if address.isEmpty { return "must be inproc://NAME (the name is missing)" }
            return nil
        default:
            return "must use tcp://, ipc:// or inproc:// (\(scheme):// is not supported)"
        }
    }

    /// `*` hosts and ports only make sense when binding; a connect needs a real peer.
    static func connectProblem(with endpoint: String) -> String? {
        guard endpoint.hasPrefix("tcp://"), let colon = endpoint.lastIndex(of: ":") else {
            if endpoint == "ipc://*" { return "cannot connect to ipc://* (a wildcard only makes sense with mode = \"bind\")" }
            return nil
        }
        let host = endpoint[endpoint.index(endpoint.startIndex, offsetBy: 6)..<colon]
        let port = endpoint[endpoint.index(after: colon)...]
        if host == "*" || port == "*" {
            return "cannot connect to a * wildcard; name the peer's host and port, or use mode = \"bind\""
        }
        return nil
    }
}
