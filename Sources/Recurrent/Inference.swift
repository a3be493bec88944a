// The weights the online step reads. Training uses the Float32 `RecurrentModel`; a detector derives a compact
// copy from it whenever weights are installed, because stepping thousands of series is bound by the bytes of
// weights streamed from memory per step, and keeps only that copy (with an int8 copy's residual) between
// trainings: the next training warm-starts from it expanded to Float32.

import COmenSupport

/// The storage precision of the weights the online step reads.
public enum InferencePrecision: String, Sendable, CaseIterable, Codable {
    /// The trained Float32 weights themselves (4 bytes per weight).
    case float32
    /// bfloat16 gate matrices (`CompactRecurrentModel`, 2 bytes per weight).
    case bfloat16 = "bf16"
    /// int8 gate matrices, one half-precision scale per gate column and block, x and h quantised to int16 per
    /// step so the products are exact integer sums (`QuantizedRecurrentModel`, 1 byte per weight).
    case int8
}

/// A model ready for the online step at some precision: the Float32 model or a compact copy derived from it.
public enum InferenceModel: Sendable, Equatable {
    case float32(RecurrentModel)
    case bfloat16(CompactRecurrentModel)
    case int8(QuantizedRecurrentModel)

    /// The copy of `model` at `precision`; the Float32 model itself when the shape has no compact form
    /// (hidden size not a multiple of 16, see `CompactRecurrentModel.supports` / `QuantizedRecurrentModel.supports`).
    public init(_ model: RecurrentModel, precision: InferencePrecision) {
        switch precision {
        case .float32:
            self = .float32(model)
        case .bfloat16:
            self = CompactRecurrentModel(model).map { .bfloat16($0) } ?? .float32(model)
        case .int8:
            self = QuantizedRecurrentModel(model).map { .int8($0) } ?? .float32(model)
        }
    }

    /// The Float32 model this copy stands for: the model itself, or the compact weights expanded (an int8 copy
    /// refined by `residual` when given, see `QuantizedRecurrentModel.dequantized(residual:)`).
    public func expanded(residual: QuantizationResidual? = nil) -> RecurrentModel {
        switch self {
        case .float32(let m): return m
        case .bfloat16(let m): return m.expanded()
        case .int8(let m): return m.dequantized(residual: residual)
        }
    }

    /// What this copy rounded away from `model` (the model it was made from), for an int8 copy; nil otherwise
    /// (a Float32 copy is exact; a bfloat16 copy keeps no residual).
    public func residual(of model: RecurrentModel) -> QuantizationResidual? {
        if case .int8(let m) = self { return QuantizationResidual(model, quantized: m) }
        return nil
    }

    /// The precision actually in use (Float32 after a fallback).
    public var precision: InferencePrecision {
        switch self {
        case .float32: return .float32
        case .bfloat16: return .bfloat16
        case .int8: return .int8
        }
    }

    public var shape: ModelShape {
        switch self {
        case .float32(let m): return m.shape
        case .bfloat16(let m): return m.shape
        case .int8(let m): return m.shape
        }
    }

    /// Weight bytes one step reads.
    public var bytesPerStep: Int {
        switch self {
        case .float32(let m): return 4 * m.parameters.count
        case .bfloat16(let m): return m.bytesPerStep
        case .int8(let m): return m.bytesPerStep
        }
    }

    /// The online step, as `RecurrentModel.step`. Allocates nothing.
    @inline(__always)
    public func step(input: UnsafeBufferPointer<Float>, state: inout RecurrentState) -> Prediction {
        switch self {
        case .float32(let m): return m.step(input: input, state: &state)
        case .bfloat16(let m): return m.step(input: input, state: &state)
        case .int8(let m): return m.step(input: input, state: &state)
        }
    }

    /// The online step, fetching `next`'s weights into cache meanwhile (spread over the step for int8 copies, see
    /// `QuantizedRecurrentModel.step(input:state:prefetching:)`; one burst up front otherwise).
    @inline(__always)
    public func step(input: UnsafeBufferPointer<Float>, state: inout RecurrentState,
                     prefetching next: InferenceModel) -> Prediction {
        if case .int8(let m) = self, case .int8(let n) = next {
            return m.step(input: input, state: &state, prefetching: n)
        }
        next.prefetch()
        return step(input: input, state: &state)
    }

    /// As `step(input:state:prefetching:)` with the next series given by its footprint (addresses only).
    @inline(__always)
    public func step(input: UnsafeBufferPointer<Float>, state: inout RecurrentState,
                     prefetching next: StepFootprint) -> Prediction {
        if case .int8(let m) = self { return m.step(input: input, state: &state, prefetching: next) }
        next.prefetchWeights()
        return step(input: input, state: &state)
    }

    /// The weights one step reads, as an address range (for `StepFootprint`; valid while this model lives).
    var weightRange: (UnsafeRawPointer?, Int) {
        switch self {
        case .float32(let m): return (m.parameters.withUnsafeBytes { $0.baseAddress }, 4 * m.parameters.count)
        case .bfloat16(let m): return (m.matrices.withUnsafeBytes { $0.baseAddress }, 4 * m.matrices.count)
        case .int8(let m): return (m.weightBase, m.bytesPerStep)
        }
    }

    /// Starts loading the weights into cache (see `QuantizedRecurrentModel.prefetch`).
    @inline(__always)
    public func prefetch() {
        switch self {
        case .float32(let m): m.prefetch()
        case .bfloat16(let m): m.prefetch()
        case .int8(let m): m.prefetch()
        }
    }
}

extension RecurrentModel {
    /// Starts loading the weights into cache: call it for the next series while stepping the current one.
    @inline(__always)
    public func prefetch() {
        parameters.withUnsafeBytes { b in
            if let p = b.baseAddress { omen_prefetch_range(p, b.count) }
        }
    }
}

extension CompactRecurrentModel {
    /// Weight bytes one step reads (bf16 matrices and the Float32 tail).
    public var bytesPerStep: Int { 4 * matrices.count + 4 * rest.count }

    /// Starts loading the weights into cache: call it for the next series while stepping the current one.
    @inline(__always)
    public func prefetch() {
        matrices.withUnsafeBytes { b in
            if let p = b.baseAddress { omen_prefetch_range(p, b.count) }
        }
        rest.withUnsafeBytes { b in
            if let p = b.baseAddress { omen_prefetch_range(p, b.count) }
        }
    }
}

extension RecurrentState {
    /// Starts loading h and c into cache for writing (two small heap buffers, each with the array header just
    /// before its elements, which the step's uniqueness check reads), as the models' `prefetch()`.
    @inline(__always)
    public func prefetch() {
        h.withUnsafeBytes { b in
            if let p = b.baseAddress { prefetchForWrite(p - 32, b.count + 32) }
        }
        c.withUnsafeBytes { b in
            if let p = b.baseAddress { prefetchForWrite(p - 32, b.count + 32) }
        }
    }
}

/// Where one series' online step reads and writes (its weights, h and c) as bare addresses, so that the step
/// before it can prefetch them without copying the model or the state: a copy writes reference counts on lines
/// that are, by definition, cold (`swift_retain` on them was 5% of a shard's time). Addresses only: one made
/// stale by a change of its owner costs a useless prefetch, never a fault (prefetches do not fault). Refresh it
/// whenever the model or the state is replaced.
public struct StepFootprint {
    var weights: UnsafeRawPointer?
    var weightBytes = 0
    /// h's and c's storage from their array headers on (the step's uniqueness check reads the header).
    private var h: UnsafeRawPointer?
    private var c: UnsafeRawPointer?
    private var stateBytes = 0

    /// No footprint: prefetching it does nothing.
    public init() {}

    /// The footprint of stepping `state` with `model` (weights: none while there is no model).
    public init(model: InferenceModel?, state: RecurrentState) {
        if let (w, n) = model?.weightRange {
            weights = w
            weightBytes = w == nil ? 0 : n
        }
        h = state.h.withUnsafeBytes { $0.baseAddress.map { $0 - 32 } }
        c = state.c.withUnsafeBytes { $0.baseAddress.map { $0 - 32 } }
        stateBytes = 4 * state.h.count + 32
    }

    /// Starts loading the weights into cache.
    @inline(__always)
    public func prefetchWeights() {
        if let weights, weightBytes > 0 { omen_prefetch_range(weights, weightBytes) }
    }

    /// Starts loading h and c into cache for writing.
    @inline(__always)
    public func prefetchState() {
        if let h { prefetchForWrite(h, stateBytes) }
        if let c { prefetchForWrite(c, stateBytes) }
    }
}

/// Prefetches [p, p + bytes) for writing; prefetching never faults, whatever the address.
@inline(__always) private func prefetchForWrite(_ p: UnsafeRawPointer, _ bytes: Int) {
    var o = 0
    while o < bytes {
        omen_prefetch_write(p + o)
        o += 64
    }
    omen_prefetch_write(p + (bytes - 1))
}
