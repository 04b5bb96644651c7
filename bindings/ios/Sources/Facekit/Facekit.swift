// Facekit.swift — a thin Swift wrapper over the facekit C API (include/facekit.h), mirroring the Java API
// (dev.facekit): Engine, Gallery, Image, Face, Match, Quality, Liveness, and FacekitError for every non-OK status
// (deciding calls refuse a capture with FK_ERR_POOR_QUALITY or FK_ERR_NOT_LIVE: "show your real face").
//
// NOT COMPILED HERE: written on a Linux machine without a Swift toolchain (see ../../README.md).
//
// The C declarations come from the clang module `Facekit` (../../module.modulemap, or the module map that
// build_xcframework.sh puts inside Facekit.xcframework). Compile this file in a module that is not itself
// named Facekit — the app target, or a SwiftPM target such as `FacekitSwift` with `path: "Sources/Facekit"`.
// In a mixed-language framework named Facekit, the C part is the underlying module: build with
// `-D FACEKIT_UNDERLYING_MODULE` (Xcode: Other Swift Flags) so the import below is skipped.
#if !FACEKIT_UNDERLYING_MODULE
import Facekit
#endif
import Foundation

// MARK: - Errors

/// A failed facekit call: the C status (`status`, e.g. 4), its C name (`statusName`, e.g.
/// "FK_ERR_INVALID_IMAGE") and the library's `fk_last_error()` message for the call.
public struct FacekitError: Error, CustomStringConvertible {
    public let status: Int32
    public let statusName: String
    public let message: String

    /// Reads `fk_last_error()` at once: it is thread-local and valid only until the next failing call.
    init(_ status: fk_status) {
        self.init(status: Int32(truncatingIfNeeded: status.rawValue), message: String(cString: fk_last_error()))
    }

    init(status: Int32, message: String) {
        self.status = status
        // fk_status_str gives "FK_ERR_NO_FACE: no face found"; keep the name.
        let full = String(cString: fk_status_str(status))
        self.statusName = full.split(separator: ":", maxSplits: 1).first.map(String.init) ?? full
        self.message = message
    }

    static func invalid(_ message: String) -> FacekitError {
        FacekitError(status: Int32(truncatingIfNeeded: FK_ERR_INVALID_ARGUMENT.rawValue), message: message)
    }

    public var description: String { message.isEmpty ? statusName : "\(statusName): \(message)" }
}

@inline(__always)
private func check(_ status: fk_status) throws {
    if status != FK_OK { throw FacekitError(status) }
}

/// The library's version string, e.g. "0.1.0".
public func facekitVersion() -> String { String(cString: fk_version_string()) }

// MARK: - Values

/// `fk_format` values.
public enum PixelFormat: Int32 {
    case rgb8 = 1, bgr8 = 2, rgba8 = 3, bgra8 = 4, gray8 = 5, nv21 = 6, nv12 = 7, i420 = 8
}

/// `fk_operating_point`: the false-accept rate is 10^-rawValue.
public enum OperatingPoint: Int32 {
    case far1e2 = 2, far1e3 = 3, far1e4 = 4, far1e5 = 5, far1e6 = 6
}

/// `fk_liveness_point`: the share of spoofs that may pass, in per mille.
public enum LivenessPoint: Int32 {
    case apcer1e2 = 10, apcer5e2 = 50
}

/// `fk_liveness_status`: whether a face could be checked.
public enum LivenessStatus: Int32 {
    /// Scored: `score` and `isLive` hold.
    case assessed = 0
    /// A crop would be enlarged to the model's input: ask the user to come closer.
    case faceTooSmall = 1
    /// The face is cut off by the frame edge: ask the user to centre it.
    case faceAtBorder = 2
}

/// A frame and its layout. `rotation` is the clockwise turn (0/90/180/270) that makes it upright; results
/// are in upright-image coordinates. The bytes are copied into the `Image` (a `Data`), never kept by C.
public struct Image {
    public let data: Data
    public let width: Int
    public let height: Int
    /// Bytes between rows (luma rows for YUV formats).
    public let stride: Int
    public let format: PixelFormat
    public let rotation: Int

    public init(data: Data, width: Int, height: Int, stride: Int, format: PixelFormat, rotation: Int = 0) {
        self.data = data
        self.width = width
        self.height = height
        self.stride = stride
        self.format = format
        self.rotation = rotation
    }

    /// Android-style NV21 (Y plane, then interleaved V/U rows with the same stride).
    public static func nv21(_ data: Data, width: Int, height: Int, stride: Int, rotation: Int = 0) -> Image {
        Image(data: data, width: width, height: height, stride: stride, format: .nv21, rotation: rotation)
    }

    /// 32BGRA bytes (`kCVPixelFormatType_32BGRA`, e.g. copied from a locked CVPixelBuffer with its bytesPerRow).
    public static func bgra(_ data: Data, width: Int, height: Int, bytesPerRow: Int, rotation: Int = 0) -> Image {
        Image(data: data, width: width, height: height, stride: bytesPerRow, format: .bgra8, rotation: rotation)
    }

    /// Decodes a JPEG or PNG file with the library (`fk_image_load`) into RGB8.
    public static func load(_ path: String) throws -> Image {
        var raw = fk_image()
        try check(fk_image_load(path, &raw))
        defer { fk_image_release(&raw) }
        let bytes = raw.data.map { Data(bytes: $0, count: raw.len) } ?? Data()
        return Image(data: bytes, width: Int(raw.width), height: Int(raw.height), stride: raw.stride, format: .rgb8)
    }

    /// Calls `body` with a C descriptor of the pixels, valid only during the call.
    func withDescriptor<R>(_ body: (UnsafePointer<fk_image>) throws -> R) throws -> R {
        // Out-of-range sizes become values the library refuses (FK_ERR_INVALID_IMAGE) instead of trapping.
        guard width >= 0, height >= 0, stride >= 0, width <= Int(UInt32.max), height <= Int(UInt32.max) else {
            throw FacekitError(status: Int32(truncatingIfNeeded: FK_ERR_INVALID_IMAGE.rawValue),
                               message: "image \(width)x\(height) stride \(stride) is out of range")
        }
        return try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> R in
            var img = fk_image(data: raw.bindMemory(to: UInt8.self).baseAddress, len: raw.count,
                               width: UInt32(width), height: UInt32(height), stride: stride,
                               format: format.rawValue, rotation: Int32(truncatingIfNeeded: rotation),
                               u: nil, u_len: 0, v: nil, v_len: 0, uv_stride: 0, uv_pixel_stride: 0)
            return try withUnsafePointer(to: &img) { try body($0) }
        }
    }
}

/// One detected face in pixels of the upright image; landmarks: image-left eye, image-right eye, nose tip,
/// image-left and image-right mouth corners.
public struct Face: Equatable {
    public let x: Float, y: Float, width: Float, height: Float
    public let score: Float
    public let landmarks: [SIMD2<Float>]

    init(_ f: fk_face) {
        x = f.x; y = f.y; width = f.width; height = f.height; score = f.score
        let l = f.landmarks // float[5][2] imports as a tuple of 5 tuples of 2 Floats
        landmarks = [l.0, l.1, l.2, l.3, l.4].map { SIMD2<Float>($0.0, $0.1) }
    }

    public init(x: Float, y: Float, width: Float, height: Float, score: Float, landmarks: [SIMD2<Float>]) {
        precondition(landmarks.count == 5, "a face has 5 landmarks")
        self.x = x; self.y = y; self.width = width; self.height = height; self.score = score
        self.landmarks = landmarks
    }

    var c: fk_face {
        let p = landmarks
        return fk_face(x: x, y: y, width: width, height: height, score: score,
                       landmarks: ((p[0].x, p[0].y), (p[1].x, p[1].y), (p[2].x, p[2].y), (p[3].x, p[3].y), (p[4].x, p[4].y)))
    }

    public var area: Float { max(width, 0) * max(height, 0) }

    /// Intersection over union of the two boxes.
    public func iou(_ o: Face) -> Float {
        let iw = min(x + width, o.x + o.width) - max(x, o.x)
        let ih = min(y + height, o.y + o.height) - max(y, o.y)
        let inter = max(iw, 0) * max(ih, 0)
        let union = area + o.area - inter
        return union > 0 ? inter / union : 0
    }
}

/// A comparison: cosine similarity (not a probability) and the decision at a calibrated threshold.
public struct Match {
    public let similarity: Float
    public let threshold: Float
    public let isMatch: Bool
    public let operatingPoint: Int32

    init(_ m: fk_match) {
        similarity = m.similarity; threshold = m.threshold; isMatch = m.is_match != 0
        operatingPoint = m.operating_point
    }
}

/// Capture quality of one face (not liveness).
public struct Quality {
    public struct Component {
        public let raw: Float
        public let score: Float
        /// false: not measured (raw and score are NaN).
        public let assessed: Bool
    }

    public static let reasonNames: [(UInt32, String)] = [
        (1, "TOO_DARK"), (2, "TOO_BRIGHT"), (4, "BLURRY"), (8, "LOW_CONTRAST"), (16, "POSE"), (32, "TOO_SMALL"),
        (64, "LOW_CONFIDENCE"), (128, "LOW_LEARNED_QUALITY"), (256, "LOW_OVERALL"), (512, "OCCLUDED"),
        (1024, "COMPRESSED"),
    ]

    public let overall: Float
    public let acceptable: Bool
    /// Bitmask of `fk_quality_reason` flags.
    public let reasons: UInt32
    public let components: [String: Component]

    public var reasonList: [String] { Quality.reasonNames.filter { reasons & $0.0 != 0 }.map { $0.1 } }

    init(_ r: fk_quality_report) {
        overall = r.overall; acceptable = r.acceptable; reasons = r.reasons
        let c = { (q: fk_quality_component) in Component(raw: q.raw, score: q.score, assessed: q.assessed) }
        components = [
            "sharpness": c(r.sharpness), "brightness": c(r.brightness), "exposure": c(r.exposure),
            "contrast": c(r.contrast), "yaw": c(r.yaw), "pitch": c(r.pitch), "roll": c(r.roll),
            "face_size": c(r.face_size), "confidence": c(r.confidence), "learned": c(r.learned),
            "occlusion": c(r.occlusion), "compression": c(r.compression),
        ]
    }
}

/// Liveness of one face: `score` is the probability of a live face (not a print, a photo or a video on a
/// screen), `isLive` the decision at `threshold`, the calibrated threshold of `operatingPoint`. Not scored
/// (NaN, not live) when `status` is not `.assessed`. On a live camera, average over several frames.
public struct Liveness {
    /// nil for a status this wrapper does not know (a newer library).
    public let status: LivenessStatus?
    public let score: Float
    public let isLive: Bool
    public let threshold: Float
    public let operatingPoint: LivenessPoint?
    /// Each model's probability of a live face, in the manifest's order.
    public let modelScores: [Float]

    init(_ r: fk_liveness_report) {
        status = LivenessStatus(rawValue: Int32(truncatingIfNeeded: r.status.rawValue))
        score = r.score; isLive = r.is_live; threshold = r.threshold
        operatingPoint = LivenessPoint(rawValue: Int32(truncatingIfNeeded: r.operating_point.rawValue))
        let all = withUnsafeBytes(of: r.model_scores) { Array($0.bindMemory(to: Float.self)) }
        modelScores = Array(all.prefix(Int(min(r.model_count, UInt32(all.count)))))
    }
}

// MARK: - Handle ownership

/// Owns one C pointer. Calls run inside `use`, which counts them; `close()` refuses new calls, waits for the
/// running ones (other threads), then frees exactly once. Its `deinit` (when the owning Engine/Gallery is
/// released, or when an initializer throws after creating it) frees the pointer if close() was not called.
final class NativeHandle {
    private var pointer: OpaquePointer?
    private var busy = 0
    private let cond = NSCondition()
    private let free: (OpaquePointer) -> Void
    private let kind: String

    init(_ pointer: OpaquePointer, kind: String, free: @escaping (OpaquePointer) -> Void) {
        self.pointer = pointer
        self.kind = kind
        self.free = free
    }

    func use<R>(_ body: (OpaquePointer) throws -> R) throws -> R {
        cond.lock()
        guard let p = pointer else {
            cond.unlock()
            throw FacekitError.invalid("\(kind) is closed")
        }
        busy += 1
        cond.unlock()
        defer {
            cond.lock()
            busy -= 1
            if busy == 0 { cond.broadcast() }
            cond.unlock()
        }
        return try body(p)
    }

    var isClosed: Bool {
        cond.lock(); defer { cond.unlock() }
        return pointer == nil
    }

    func close() {
        cond.lock()
        guard let p = pointer else { cond.unlock(); return }
        pointer = nil
        while busy > 0 { cond.wait() }
        cond.unlock()
        free(p)
    }

    deinit { close() }
}

// MARK: - Engine

/// A loaded face pipeline (`fk_engine`). Thread-safe: share one engine between threads.
public final class Engine {
    let handle: NativeHandle
    public let embeddingDim: Int
    public let cropSize: (width: Int, height: Int)
    /// The engine's operating point; nil if the embedder is not calibrated.
    public let operatingPoint: OperatingPoint?
    let defaultThreshold: Float
    private let maxFaces: Int

    /// Loads the models of `modelsDir` (nil: the pack compiled into the library, if any). Options as in
    /// `fk_options_set`, e.g. ["detector": "yunet_n", "flip": "1", "operating_point": "far_1e-4"];
    /// ["mode": "accurate"] is the accurate mode (MobileFaceNet and dlib ResNet fused, 256-d embeddings).
    public init(modelsDir: String?, options: [String: String] = [:]) throws {
        guard fk_version() / 10000 == UInt32(FK_VERSION) / 10000 else {
            throw FacekitError.invalid("libfacekit \(facekitVersion()) does not match facekit.h \(FK_VERSION_STRING)")
        }
        guard let o = fk_options_new() else {
            throw FacekitError(status: Int32(truncatingIfNeeded: FK_ERR_PANIC.rawValue), message: "fk_options_new failed")
        }
        defer { fk_options_free(o) }
        for (k, v) in options { try check(fk_options_set(o, k, v)) }
        var out: OpaquePointer?
        if let dir = modelsDir {
            try check(fk_engine_new_from_dir(dir, o, &out))
        } else {
            try check(fk_engine_new_bundled(o, &out))
        }
        let e = out!
        handle = NativeHandle(e, kind: "Engine") { fk_engine_free($0) }
        embeddingDim = fk_engine_embedding_dim(e)
        var w: UInt32 = 0, h: UInt32 = 0
        try check(fk_engine_crop_size(e, &w, &h))
        cropSize = (Int(w), Int(h))
        // A buffer of max_faces entries holds every face fk_detect can return: mirror the option.
        maxFaces = min(max(Int(Double(options["max_faces"] ?? "64") ?? 1024), 1), 1024)
        // No getter for the operating point either: a unit vector compared with itself reports it.
        var unit = [Float](repeating: 0, count: embeddingDim)
        var m = fk_match()
        if !unit.isEmpty {
            unit[0] = 1
            if fk_compare(e, unit, unit, unit.count, &m) == FK_OK {
                operatingPoint = OperatingPoint(rawValue: m.operating_point)
                defaultThreshold = m.threshold
                return
            }
        }
        operatingPoint = nil
        defaultThreshold = -1
    }

    /// Frees the engine now (idempotent; waits for calls running in other threads).
    public func close() { handle.close() }

    public var isClosed: Bool { handle.isClosed }

    /// Faces, best score first; empty when there is none.
    public func detect(_ image: Image) throws -> [Face] {
        try handle.use { e -> [Face] in
            var faces = [fk_face](repeating: fk_face(), count: maxFaces)
            var n = 0
            try image.withDescriptor { img in
                try check(faces.withUnsafeMutableBufferPointer { fk_detect(e, img, $0.baseAddress, $0.count, &n) })
            }
            return faces.prefix(min(n, faces.count)).map(Face.init)
        }
    }

    /// The largest face, or FK_ERR_NO_FACE.
    public func largestFace(_ image: Image) throws -> Face {
        guard let f = try detect(image).max(by: { $0.area < $1.area }) else {
            throw FacekitError(status: Int32(truncatingIfNeeded: FK_ERR_NO_FACE.rawValue), message: "no face found in the image")
        }
        return f
    }

    /// The aligned RGB8 crop the embedder sees (`cropSize`), row-major.
    public func align(_ image: Image, face: Face) throws -> Data {
        try handle.use { e -> Data in
            var out = Data(count: cropSize.width * cropSize.height * 3)
            var f = face.c
            try image.withDescriptor { img in
                try check(out.withUnsafeMutableBytes { buf in
                    fk_align(e, img, &f, buf.bindMemory(to: UInt8.self).baseAddress, buf.count)
                })
            }
            return out
        }
    }

    /// Unit-length embedding of `face` (default: the largest face).
    public func embed(_ image: Image, face: Face? = nil) throws -> [Float] {
        let target = try face ?? largestFace(image)
        return try handle.use { e -> [Float] in
            var out = [Float](repeating: 0, count: embeddingDim)
            var f = target.c
            try image.withDescriptor { img in
                try check(out.withUnsafeMutableBufferPointer { fk_embed(e, img, &f, $0.baseAddress, $0.count) })
            }
            return out
        }
    }

    /// Compares two embeddings at the engine's operating point.
    public func compare(_ a: [Float], _ b: [Float]) throws -> Match {
        guard a.count == b.count else { throw FacekitError.invalid("embeddings differ in length (\(a.count) vs \(b.count))") }
        return try handle.use { e -> Match in
            var m = fk_match()
            try check(fk_compare(e, a, b, a.count, &m))
            return Match(m)
        }
    }

    /// 1:1 verification of the largest face of each image. Each capture is first checked under the engine's
    /// quality policy: FK_ERR_POOR_QUALITY or FK_ERR_NOT_LIVE refuse it (option `require_liveness`).
    public func verify(_ a: Image, _ b: Image) throws -> Match {
        try handle.use { e -> Match in
            var m = fk_match()
            try a.withDescriptor { ia in
                try b.withDescriptor { ib in try check(fk_verify(e, ia, ib, &m)) }
            }
            return Match(m)
        }
    }

    /// Capture quality of `face` under the engine's quality policy.
    public func quality(_ image: Image, face: Face) throws -> Quality {
        try handle.use { e -> Quality in
            // fk_quality is told the struct size and refuses a smaller buffer; the slack is a second guard.
            let size = MemoryLayout<fk_quality_report>.size + 256
            let raw = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: MemoryLayout<fk_quality_report>.alignment)
            defer { raw.deallocate() }
            raw.initializeMemory(as: UInt8.self, repeating: 0, count: size)
            let r = raw.bindMemory(to: fk_quality_report.self, capacity: 1)
            var f = face.c
            try image.withDescriptor { img in try check(fk_quality(e, img, &f, r, MemoryLayout<fk_quality_report>.size)) }
            return Quality(r.pointee)
        }
    }

    /// Liveness of `face` at the engine's liveness operating point (FK_ERR_UNSUPPORTED without liveness models).
    public func liveness(_ image: Image, face: Face) throws -> Liveness {
        try handle.use { e -> Liveness in
            var r = fk_liveness_report()
            var f = face.c
            try image.withDescriptor { img in try check(fk_liveness(e, img, &f, &r, MemoryLayout<fk_liveness_report>.size)) }
            return Liveness(r)
        }
    }

    /// Calibrated cosine threshold of an operating point (default: the engine's own).
    public func threshold(_ op: OperatingPoint? = nil) throws -> Float {
        guard let point = op ?? operatingPoint else { throw FacekitError.invalid("the engine's embedder is not calibrated") }
        return try handle.use { e -> Float in
            var t: Float = 0
            try check(fk_engine_threshold(e, point.rawValue, &t))
            return t
        }
    }
}

// MARK: - Gallery

/// Enrolled identities (`fk_gallery`) for one engine's embedder. Thread-safe.
public final class Gallery {
    public struct Hit {
        public let id: String
        public let similarity: Float
    }

    let handle: NativeHandle
    private let defaultThreshold: Float

    /// An empty gallery for `engine`'s embedder.
    public convenience init(engine: Engine) throws {
        var out: OpaquePointer?
        try engine.handle.use { e in try check(fk_gallery_new(e, &out)) }
        self.init(pointer: out!, engine: engine)
    }

    private init(pointer: OpaquePointer, engine: Engine) {
        handle = NativeHandle(pointer, kind: "Gallery") { fk_gallery_free($0) }
        defaultThreshold = engine.defaultThreshold
    }

    /// Loads a gallery written by `save` (checksum, model and dimension are verified).
    public static func load(engine: Engine, path: String) throws -> Gallery {
        var out: OpaquePointer?
        try engine.handle.use { e in try check(fk_gallery_load(e, path, &out)) }
        return Gallery(pointer: out!, engine: engine)
    }

    public func close() { handle.close() }

    public var isClosed: Bool { handle.isClosed }

    /// Adds a template under `id` (1..255 bytes of UTF-8).
    public func enroll(id: String, embedding: [Float]) throws {
        guard !id.utf8.contains(0) else { throw FacekitError.invalid("id contains a NUL character") }
        try handle.use { g in try check(fk_gallery_enroll(g, id, embedding, embedding.count)) }
    }

    /// Detects the largest face in `image`, checks it under `engine`'s quality policy (FK_ERR_POOR_QUALITY,
    /// FK_ERR_NOT_LIVE: nothing enrolled), embeds it with `engine` and enrolls it.
    public func enrollImage(engine: Engine, id: String, image: Image) throws {
        guard !id.utf8.contains(0) else { throw FacekitError.invalid("id contains a NUL character") }
        try handle.use { g in
            try engine.handle.use { e in
                try image.withDescriptor { img in try check(fk_gallery_enroll_image(g, e, id, img)) }
            }
        }
    }

    /// Removes an identity (FK_ERR_NOT_FOUND if it is not enrolled).
    public func remove(id: String) throws {
        try handle.use { g in try check(fk_gallery_remove(g, id)) }
    }

    public var count: Int { (try? handle.use { fk_gallery_count($0) }) ?? 0 }

    /// Up to `k` identities with similarity ≥ `threshold` (default: the engine's calibrated threshold; -1:
    /// the nearest whatever their score), best first.
    public func search(_ query: [Float], k: Int = 5, threshold: Float? = nil) throws -> [Hit] {
        guard k >= 1 else { throw FacekitError.invalid("k must be at least 1") }
        return try handle.use { g -> [Hit] in
            let cap = max(1, min(k, fk_gallery_count(g))) // never more slots than identities
            var hits = [fk_hit](repeating: fk_hit(), count: cap)
            var n = 0
            try check(hits.withUnsafeMutableBufferPointer {
                fk_gallery_search(g, query, query.count, threshold ?? defaultThreshold, $0.baseAddress, $0.count, &n)
            })
            return hits.prefix(n).map { hit in
                var h = hit
                // id is char[256], imported as a 256-tuple: read it as bytes up to the NUL.
                let id = withUnsafeBytes(of: &h.id) { raw -> String in
                    let bytes = raw.bindMemory(to: UInt8.self)
                    let end = bytes.firstIndex(of: 0) ?? bytes.count
                    return String(decoding: bytes[..<end], as: UTF8.self)
                }
                return Hit(id: id, similarity: h.similarity)
            }
        }
    }

    /// Saves atomically.
    public func save(path: String) throws {
        try handle.use { g in try check(fk_gallery_save(g, path)) }
    }
}
