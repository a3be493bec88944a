import Recurrent

extension TrainingConfig {
    /// `[training]`: truncated BPTT and Adam hyper-parameters.
    static var configKeys: [ConfigKey<TrainingConfig>] {
        [
            .integer("sequence_length", \.sequenceLength, 2...100_000),
            .integer("batch_size", \.batchSize, 1...4096),
            .integer("epochs", \.epochs, 1...10_000),
            .number("learning_rate", \.learningRate, .above(0, atMost: 1)),
            .number("learning_rate_decay", \.learningRateDecay, .above(0, atMost: 1)),
            .number("beta1", \.beta1, .from(0, below: 1)),
            .number("beta2", \.beta2, .from(0, below: 1)),
            .number("epsilon", \.epsilon, .above(0, atMost: 1)),
            .number("clip_norm", \.clipNorm, .closed(0, 1e6)),
            .number("dropout", \.dropout, .from(0, below: 1)),
            .number("weight_decay", \.weightDecay, .from(0, below: 1)),
            .number("validation_fraction", \.validationFraction, .above(0, atMost: 0.5)),
            .integer("patience", \.patience, 0...10_000),
            .choice("loss", \.loss),
            .integer("seed", \.seed, 0...UInt64(Int64.max)),
        ]
    }
}
