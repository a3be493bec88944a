// The one heap block a scoring history keeps all its arrays in: with thousands of series in memory, each point
// touches one cold object header instead of one per array (and one uniqueness check instead of several).

/// A fixed-size block of trivially copyable elements with value semantics: a copy shares the block until one
/// of them writes, which copies it first (`uniqueElements()`).
struct FlatBuffer<Element: BitwiseCopyable>: @unchecked Sendable {
    // Unchecked: the block is only written through `uniqueElements()`, after the uniqueness check, so two values
    // never see each other's writes, whatever threads they live on.
    private var storage: ManagedBuffer<Int, Element>

    /// `count` zeroed elements.
    init(count: Int) {
        storage = ManagedBuffer<Int, Element>.create(minimumCapacity: count) { _ in count }
        storage.withUnsafeMutablePointerToElements { e in
            _ = UnsafeMutableRawPointer(e).initializeMemory(as: UInt8.self, repeating: 0,
                                                            count: count * MemoryLayout<Element>.stride)
        }
    }

    var count: Int { storage.header }

    /// The elements, for reading (no uniqueness check).
    @inline(__always)
    var elements: UnsafeMutablePointer<Element> {
        storage.withUnsafeMutablePointerToElements { $0 }
    }

    /// The elements, for writing: copies the block first when another value shares it.
    @inline(__always)
    mutating func uniqueElements() -> UnsafeMutablePointer<Element> {
        if !isKnownUniquelyReferenced(&storage) {
            let n = storage.header
            let copy = FlatBuffer(count: n)
            copy.storage.withUnsafeMutablePointerToElements { to in
                storage.withUnsafeMutablePointerToElements { from in to.update(from: from, count: n) }
            }
            self = copy
        }
        return storage.withUnsafeMutablePointerToElements { $0 }
    }

    /// The block's header (its reference count), which the next write's uniqueness check reads: for prefetching.
    @inline(__always)
    var headerAddress: UnsafeRawPointer {
        UnsafeRawPointer(Unmanaged.passUnretained(storage).toOpaque())
    }
}
