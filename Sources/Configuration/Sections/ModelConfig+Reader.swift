import Detection

extension ModelConfig {
    /// `[model]`: the per-series network.
    static var configKeys: [ConfigKey<ModelConfig>] {
        [
            .choice("cell", \.cell),
            .integer("hidden", \.hiddenSize, 1...1024),
            .choice("calendar", \.calendar),
            .integer("seed", \.seed, 0...UInt64(Int64.max)),
        ]
    }
}
