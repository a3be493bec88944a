import Testing
@testable import Configuration

/// The single value of `key` in the only non-root section.
private func value(_ text: String, _ key: String = "k") throws -> TOMLValue {
    let document = try TOMLParser.parse("[t]\n" + text, file: "t.toml")
    return try #require(document.sections.last?.entries.first { $0.key == key }).value
}

@Suite("TOML subset reader")
struct ConfigTOMLTests {
    /// Basic strings decode every TOML escape; literal strings keep backslashes as written.
    @Test func strings() throws {
        #expect(try value(#"k = "a\tb\nc\"d\\e\u00E9\U0001F600\b\f\r""#).kind
                == .string("a\tb\nc\"d\\eé😀\u{08}\u{0C}\r"))
        #expect(try value(#"k = 'C:\path\no escapes "here"'"#).kind == .string(#"C:\path\no escapes "here""#))
        #expect(try value(##"k = "# not a comment""##).kind == .string("# not a comment"))
        #expect(try value(#"k = """#).kind == .string(""))
        #expect(try value("k = \"tab\tinside\"").kind == .string("tab\tinside"))
    }

    /// Integers allow a sign and underscores between digits; floats allow fractions, exponents, inf and nan.
    @Test func numbers() throws {
        #expect(try value("k = 1_000_000").kind == .integer(1_000_000))
        #expect(try value("k = -42").kind == .integer(-42))
        #expect(try value("k = +7").kind == .integer(7))
        #expect(try value("k = 0").kind == .integer(0))
        #expect(try value("k = 9223372036854775807").kind == .integer(Int64.max))
        #expect(try value("k = 3.25").kind == .float(3.25, text: "3.25"))
        #expect(try value("k = -1e-8").kind == .float(-1e-8, text: "-1e-8"))
        #expect(try value("k = 6.02E+23").kind == .float(6.02e23, text: "6.02E+23"))
        #expect(try value("k = 1_000.5").kind == .float(1000.5, text: "1_000.5"))
        #expect(try value("k = -inf").kind == .float(-.infinity, text: "-inf"))
        guard case .float(let nan, _) = try value("k = nan").kind else {
            Issue.record("nan is not a float")
            return
        }
        #expect(nan.isNaN)
    }

    /// Numbers TOML forbids are rejected: leading zeros, stray underscores, bare dots, overflow.
    @Test(arguments: ["01", "1_", "_1", "1__2", ".5", "5.", "1e", "1.e5", "9223372036854775808", "--1", "1.2.3"])
    func badNumbers(token: String) {
        #expect(TOMLParser.number(token) == nil)
    }

    /// Arrays may span lines, hold comments and a trailing comma, nest, and each element keeps its own line.
    @Test func multiLineArrays() throws {
        let array = try value("""
            k = [  # opening comment
              "a",   # first
              'b',

              [1, 2,],
            ]
            """)
        #expect(array.line == 2)
        guard case .array(let items) = array.kind else {
            Issue.record("not an array")
            return
        }
        #expect(items.map(\.line) == [3, 4, 6])
        #expect(items[0].kind == .string("a"))
        #expect(items[1].kind == .string("b"))
        #expect(items[2].kind == .array([TOMLValue(kind: .integer(1), line: 6), TOMLValue(kind: .integer(2), line: 6)]))
        #expect(try value("k = []").kind == .array([]))
    }

    /// Tables, arrays of tables, dotted and quoted names are kept in file order with their header lines.
    @Test func sectionsAndNames() throws {
        let document = try TOMLParser.parse("""
            top = true
            [a]
            x = 1
            [[b.c]]
            "quoted key" = 2
            [[b.c]]
            'lit' = 3
            [ d . "e" ]
            dotted.key = 4
            """, file: "t.toml")
        #expect(document.sections.map(\.name) == ["", "a", "b.c", "b.c", "d.e"])
        #expect(document.sections.map(\.line) == [0, 2, 4, 6, 8])
        #expect(document.sections.map(\.isArrayElement) == [false, false, true, true, false])
        #expect(document.sections[0].entries.map(\.key) == ["top"])
        #expect(document.sections[2].entries.map(\.key) == ["quoted key"])
        #expect(document.sections[3].entries.map(\.key) == ["lit"])
        #expect(document.sections[4].entries == [TOMLEntry(key: "dotted.key", line: 9, value: TOMLValue(kind: .integer(4), line: 9))])
    }

    /// CRLF line ends, a byte-order mark and a missing final newline count lines the same as LF.
    @Test func lineEndings() throws {
        let document = try TOMLParser.parse("\u{FEFF}# c\r\n[a]\r\nx = 1\r\n\r\ny = \"z\"", file: "t.toml")
        let entries = document.sections[1].entries
        #expect(entries.map(\.line) == [3, 5])
        #expect(entries[1].value.kind == .string("z"))
    }

    /// A lone carriage return or a raw control character is a syntax error on its line.
    @Test func controlCharacters() {
        #expect(throws: ConfigError.self) { try TOMLParser.parse("[a]\rx = 1", file: "t.toml") }
        #expect {
            try TOMLParser.parse("[a]\nx = \"bell\u{07}\"", file: "t.toml")
        } throws: { error in
            (error as? ConfigError)?.line == 2 && (error as? ConfigError)?.kind == .syntax
        }
    }

    /// Values render back as TOML for "got …" in messages, escaping what needs escaping.
    @Test func rendering() throws {
        #expect(try value(#"k = "say \"hi\"\n""#).rendered == #""say \"hi\"\n""#)
        #expect(try value("k = [1, 'a', true, 2.50]").rendered == #"[1, "a", true, 2.50]"#)
        #expect(TOMLValue(kind: .string("\u{01}"), line: 1).rendered == #""\u0001""#)
    }
}
