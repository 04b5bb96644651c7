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
#if canImport(CoreVideo)
import CoreVideo
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

/// A NUL-terminated `char[256]` (an identity key), imported as a 256-tuple: its bytes up to the NUL, as UTF-8.
private func identityString<T>(_ chars: T) -> String {
    withUnsafeBytes(of: chars) { raw -> String in
        let bytes = raw.bindMemory(to: UInt8.self)
        let end = bytes.firstIndex(of: 0) ?? bytes.count
        return String(decoding: bytes[..<end], as: UTF8.self)
    }
}

/// The library's version string, e.g. "0.1.0".
public func facekitVersion() -> String { String(cString: fk_version_string()) }

// MARK: - Values

/// `fk_format` values.
public enum PixelFormat: Int32 {
    case rgb8 = 1, bgr8 = 2, rgba8 = 3, bgra8 = 4, gray8 = 5, nv21 = 6, nv12 = 7, i420 = 8
    /// Three separately addressed 4:2:0 planes: what `Image(pixelBuffer:)` makes of a bi-planar buffer.
    case yuv420 = 9
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
/// are in upright-image coordinates. Either bytes copied into the `Image` (a `Data`), or — for camera frames —
/// a `CVPixelBuffer` read in place: its base addresses are locked only for the duration of each call, and C
/// never keeps a pointer.
public struct Image {
    enum Storage {
        case bytes(Data)
        #if canImport(CoreVideo)
        case pixelBuffer(CVPixelBuffer)
        #endif
    }

    let storage: Storage
    public let width: Int
    public let height: Int
    /// Bytes between rows (luma rows for YUV formats); for a pixel buffer, read from it at each call.
    public let stride: Int
    public let format: PixelFormat
    public let rotation: Int

    public init(data: Data, width: Int, height: Int, stride: Int, format: PixelFormat, rotation: Int = 0) {
        self.storage = .bytes(data)
        self.width = width
        self.height = height
        self.stride = stride
        self.format = format
        self.rotation = rotation
    }

    /// The bytes of an image made from `Data` (nil for a pixel buffer).
    public var data: Data? {
        if case .bytes(let d) = storage { return d }
        return nil
    }

    /// Android-style NV21 (Y plane, then interleaved V/U rows with the same stride).
    public static func nv21(_ data: Data, width: Int, height: Int, stride: Int, rotation: Int = 0) -> Image {
        Image(data: data, width: width, height: height, stride: stride, format: .nv21, rotation: rotation)
    }

    /// 32BGRA bytes (`kCVPixelFormatType_32BGRA`) with their bytesPerRow. For camera frames prefer
    /// `Image(pixelBuffer:)`, which reads the buffer without a copy.
    public static func bgra(_ data: Data, width: Int, height: Int, bytesPerRow: Int, rotation: Int = 0) -> Image {
        Image(data: data, width: width, height: height, stride: bytesPerRow, format: .bgra8, rotation: rotation)
    }

    #if canImport(CoreVideo)
    /// A camera frame, read in place (no copy): `kCVPixelFormatType_420YpCbCr8BiPlanarFullRange` ('420f'),
    /// `…VideoRange` ('420v') or `kCVPixelFormatType_32BGRA`. Bi-planar buffers go in as facekit's three-plane
    /// YUV 4:2:0: plane 0 is Y, plane 1 CbCr, so U is its base and V its base + 1, pixel stride 2.
    /// **Video range**: facekit converts YUV as full range (BT.601, as Android and '420f' deliver it), so a
    /// '420v' frame comes out with its blacks at 16 and whites at 235 — detection works, but quality and
    /// liveness were calibrated on full-range colour: set `kCVPixelFormatType_420YpCbCr8BiPlanarFullRange` (or
    /// 32BGRA) in the video output's `videoSettings`. Any other pixel format is refused when used
    /// (FK_ERR_INVALID_ARGUMENT).
    public init(pixelBuffer: CVPixelBuffer, rotation: Int = 0) {
        let f = CVPixelBufferGetPixelFormatType(pixelBuffer)
        self.storage = .pixelBuffer(pixelBuffer)
        self.width = CVPixelBufferGetWidth(pixelBuffer)
        self.height = CVPixelBufferGetHeight(pixelBuffer)
        self.stride = CVPixelBufferIsPlanar(pixelBuffer) ? CVPixelBufferGetBytesPerRowOfPlane(pixelBuffer, 0)
            : CVPixelBufferGetBytesPerRow(pixelBuffer)
        self.format = f == kCVPixelFormatType_32BGRA ? .bgra8 : .yuv420
        self.rotation = rotation
    }
    #endif

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
        let rot = Int32(truncatingIfNeeded: rotation)
        switch storage {
        case .bytes(let data):
            return try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> R in
                var img = fk_image(data: raw.bindMemory(to: UInt8.self).baseAddress, len: raw.count,
                                   width: UInt32(width), height: UInt32(height), stride: stride,
                                   format: format.rawValue, rotation: rot,
                                   u: nil, u_len: 0, v: nil, v_len: 0, uv_stride: 0, uv_pixel_stride: 0)
                return try withUnsafePointer(to: &img) { try body($0) }
            }
        #if canImport(CoreVideo)
        case .pixelBuffer(let pb):
            guard CVPixelBufferLockBaseAddress(pb, .readOnly) == kCVReturnSuccess else {
                throw FacekitError(status: Int32(truncatingIfNeeded: FK_ERR_INVALID_IMAGE.rawValue),
                                   message: "CVPixelBufferLockBaseAddress failed")
            }
            defer { CVPixelBufferUnlockBaseAddress(pb, .readOnly) }
            var img = try Image.describe(locked: pb, width: width, height: height, rotation: rot)
            return try withUnsafePointer(to: &img) { try body($0) }
        #endif
        }
    }

    #if canImport(CoreVideo)
    /// The `fk_image` of a locked pixel buffer: its own memory, its own strides.
    private static func describe(locked pb: CVPixelBuffer, width: Int, height: Int, rotation: Int32) throws -> fk_image {
        let w = UInt32(width), h = UInt32(height)
        switch CVPixelBufferGetPixelFormatType(pb) {
        case kCVPixelFormatType_420YpCbCr8BiPlanarFullRange, kCVPixelFormatType_420YpCbCr8BiPlanarVideoRange:
            guard CVPixelBufferGetPlaneCount(pb) == 2,
                  let y = CVPixelBufferGetBaseAddressOfPlane(pb, 0),
                  let c = CVPixelBufferGetBaseAddressOfPlane(pb, 1) else {
                throw FacekitError(status: Int32(truncatingIfNeeded: FK_ERR_INVALID_IMAGE.rawValue),
                                   message: "bi-planar pixel buffer without its two planes")
            }
            let yStride = CVPixelBufferGetBytesPerRowOfPlane(pb, 0)
            let cStride = CVPixelBufferGetBytesPerRowOfPlane(pb, 1)
            let yLen = yStride * CVPixelBufferGetHeightOfPlane(pb, 0)
            let cLen = cStride * CVPixelBufferGetHeightOfPlane(pb, 1)
            let cbcr = UnsafePointer(c.assumingMemoryBound(to: UInt8.self))
            // Plane 1 interleaves Cb, Cr: U at its base, V one byte on, each sample 2 bytes from the next.
            return fk_image(data: UnsafePointer(y.assumingMemoryBound(to: UInt8.self)), len: yLen,
                            width: w, height: h, stride: yStride, format: PixelFormat.yuv420.rawValue, rotation: rotation,
                            u: cbcr, u_len: cLen, v: cbcr + 1, v_len: max(cLen - 1, 0), uv_stride: cStride,
                            uv_pixel_stride: 2)
        case kCVPixelFormatType_32BGRA:
            guard let base = CVPixelBufferGetBaseAddress(pb) else {
                throw FacekitError(status: Int32(truncatingIfNeeded: FK_ERR_INVALID_IMAGE.rawValue),
                                   message: "pixel buffer without a base address")
            }
            let bpr = CVPixelBufferGetBytesPerRow(pb)
            return fk_image(data: UnsafePointer(base.assumingMemoryBound(to: UInt8.self)), len: bpr * height,
                            width: w, height: h, stride: bpr, format: PixelFormat.bgra8.rawValue, rotation: rotation,
                            u: nil, u_len: 0, v: nil, v_len: 0, uv_stride: 0, uv_pixel_stride: 0)
        case let other:
            let fourCC = String(bytes: [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: other >> $0) }, encoding: .ascii) ?? "\(other)"
            throw FacekitError.invalid("pixel buffer format '\(fourCC)' is not supported: use 420f, 420v or 32BGRA")
        }
    }
    #endif
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
            return hits.prefix(n).map { Hit(id: identityString($0.id), similarity: $0.similarity) }
        }
    }

    /// Saves atomically.
    public func save(path: String) throws {
        try handle.use { g in try check(fk_gallery_save(g, path)) }
    }
}

// MARK: - Live camera: tracker

/// `fk_track_state`.
public enum TrackState: Int32 {
    /// First frame of the track.
    case new = 1
    /// Seen before (`missed` says whether it was seen in this frame).
    case tracked = 2
    /// Ended in this frame (unseen too long, scene cut, frame size change); reported once.
    case lost = 3
}

/// `fk_verdict`: a track's decision.
public enum Verdict: Int32 {
    /// The gallery identity in `identity`, or the template: open the door.
    case accepted = 1
    /// Compared and below the threshold: nobody enrolled / not the template's person.
    case noMatch = 2
    /// A photo or a screen: show "show your real face".
    case notLive = 3
    /// No capture good enough within the decision window: "look at the camera".
    case poorQuality = 4
}

/// `fk_event_kind`.
public enum EventKind: Int32 {
    case appeared = 1, decided = 2, lost = 3
}

/// A track's decision, taken once and final while the track lives. `similarity` (cosine of the track's
/// aggregated embedding to the reference) and `threshold` are NaN when nothing was compared; `liveness` is the
/// captures' mean liveness score (NaN when not assessed).
public struct Decision: Equatable {
    /// nil for a verdict this wrapper does not know (a newer library).
    public let verdict: Verdict?
    /// The gallery identity (accepted) or the closest one (no match); nil with a template or when nothing was compared.
    public let identity: String?
    public let similarity: Float
    public let threshold: Float
    public let operatingPoint: OperatingPoint?
    public let liveness: Float
    /// Frames from the track's first appearance to the decision.
    public let afterFrames: Int

    public var accepted: Bool { verdict == .accepted }

    /// nil while undecided (FK_VERDICT_NONE).
    init?(_ d: fk_decision) {
        guard d.verdict != 0 else { return nil }
        verdict = Verdict(rawValue: d.verdict)
        let id = identityString(d.identity)
        identity = id.isEmpty ? nil : id
        similarity = d.similarity; threshold = d.threshold; liveness = d.liveness
        operatingPoint = OperatingPoint(rawValue: d.operating_point)
        afterFrames = Int(d.after_frames)
    }

    /// Field by field, NaN equal to NaN (an uncompared similarity stays the same decision).
    public static func == (a: Decision, b: Decision) -> Bool {
        let same = { (x: Float, y: Float) in x == y || (x.isNaN && y.isNaN) }
        return a.verdict == b.verdict && a.identity == b.identity && same(a.similarity, b.similarity)
            && same(a.threshold, b.threshold) && a.operatingPoint == b.operatingPoint && same(a.liveness, b.liveness)
            && a.afterFrames == b.afterFrames
    }
}

/// One tracked face in the latest frame. `id` is stable for the track's life and never reused by its tracker;
/// `face` is this frame's box (the predicted box, score 0, when `missed` > 0); `decision` is nil until decided.
public struct Track {
    public let id: UInt64
    /// nil for a state this wrapper does not know.
    public let state: TrackState?
    public let face: Face
    /// Frames since the track appeared (0 on its first).
    public let age: Int
    /// Consecutive frames unseen.
    public let missed: Int
    /// Good captures embedded so far.
    public let captures: Int
    /// Overall quality (0–100) of its best capture; NaN before the first.
    public let bestQuality: Float
    /// Mean liveness score of its captures; NaN when not assessed.
    public let liveness: Float
    public let decision: Decision?

    init(_ t: fk_track) {
        id = t.id; state = TrackState(rawValue: t.state); face = Face(t.face)
        age = Int(t.age); missed = Int(t.missed); captures = Int(t.captures)
        bestQuality = t.best_quality; liveness = t.liveness; decision = Decision(t.decision)
    }
}

/// Something a door-gate loop acts on: track `track` appeared, was decided (`decision` set) or was lost, in
/// tracker frame `frame` (0-based).
public struct TrackEvent {
    public let frame: UInt64
    public let track: UInt64
    /// nil for a kind this wrapper does not know.
    public let kind: EventKind?
    public let decision: Decision?

    init(_ e: fk_event) {
        frame = e.frame; track = e.track; kind = EventKind(rawValue: e.kind); decision = Decision(e.decision)
    }
}

/// One camera stream's tracker (`fk_tracker`): follows faces across frames and decides once per person. Each
/// `update` takes the next frame and returns its tracks; `pollEvents` returns what happened since the last
/// poll (appeared / decided / lost).
///
/// **One tracker per stream.** Feed it one camera's frames, in order — e.g. from the
/// `AVCaptureVideoDataOutput` delegate's serial queue. Its calls are serialised by a lock, so two threads
/// cannot corrupt it, but interleaving two streams in one tracker makes no sense: use one tracker per camera.
/// Many trackers may share one engine and one gallery. The tracker holds its engine and gallery (strong
/// references), so they live as long as it does; closed explicitly before it, the engine makes every call
/// throw, and the gallery makes `update` throw until another reference is set — never a use of freed memory.
/// The native tracker is freed by `close()` or when the last reference goes (`deinit`).
public final class Tracker {
    let handle: NativeHandle
    public let engine: Engine
    private var gallery: Gallery? // guarded by lock
    private var maxTracks = 16 // the most tracks ever allowed ("max_tracks"; default 16); guarded by lock
    private let lock = NSLock()

    /// A tracker on `engine`, deciding nothing until a gallery or template is set. Settings as in `set`.
    public init(engine: Engine, settings: [String: String] = [:]) throws {
        var out: OpaquePointer?
        try engine.handle.use { e in try check(fk_tracker_new(e, &out)) }
        handle = NativeHandle(out!, kind: "Tracker") { fk_tracker_free($0) }
        self.engine = engine
        for (k, v) in settings { try set(k, v) } // on a throw, deinit frees the tracker
    }

    /// One native call with the tracker's handle and its engine's held (and, for `withGallery`, its gallery's):
    /// each throws when closed, and none can be freed during the call.
    private func call<R>(withGallery: Bool = false, _ body: (OpaquePointer) throws -> R) throws -> R {
        lock.lock()
        defer { lock.unlock() }
        return try handle.use { t in
            try engine.handle.use { _ in
                guard withGallery, let g = gallery else { return try body(t) }
                return try g.handle.use { _ in try body(t) }
            }
        }
    }

    public func close() { handle.close() }

    public var isClosed: Bool { handle.isClosed }

    /// Changes one setting from the next frame on: `detect_every`, `roi_input`, `roi_scale`, `roi_min_score`,
    /// `min_iou`, `max_missed`, `min_captures`, `capture_gap`, `decide_within`, `max_tracks` (see
    /// `fk_tracker_set`). FK_ERR_INVALID_ARGUMENT for an unknown key or a bad value.
    public func set(_ key: String, _ value: String) throws {
        try call { t in
            try check(fk_tracker_set(t, key, value))
            if key == "max_tracks", let m = Double(value.trimmingCharacters(in: .whitespaces)) {
                maxTracks = max(maxTracks, Int(m))
            }
        }
    }

    /// Decide tracks against `gallery` (1:N: who is it) from now on; nil stops deciding.
    public func setGallery(_ g: Gallery?) throws {
        try call { t in
            if let g = g {
                try g.handle.use { gp in try check(fk_tracker_set_gallery(t, gp)) }
            } else {
                try check(fk_tracker_set_gallery(t, nil))
            }
            gallery = g
        }
    }

    /// Decide tracks against one template (1:1: is it this person) from now on; the vector is copied.
    public func setTemplate(_ embedding: [Float]) throws {
        try call { t in
            try check(fk_tracker_set_template(t, embedding, embedding.count))
            gallery = nil // no longer referred to
        }
    }

    /// Processes the next frame; returns its tracks (those lost in it included, once, with state `.lost`). A
    /// frame of another size ends every track (a new stream). A frame the library refuses
    /// (FK_ERR_INVALID_IMAGE) leaves the tracker as it was.
    public func update(_ frame: Image) throws -> [Track] {
        try call(withGallery: true) { t -> [Track] in
            // A frame reports at most every live track plus every track that ended in it: 2 x max_tracks.
            var tracks = [fk_track](repeating: fk_track(), count: 2 * maxTracks)
            var n = 0
            try frame.withDescriptor { img in
                try check(tracks.withUnsafeMutableBufferPointer { fk_tracker_update(t, img, $0.baseAddress, $0.count, &n) })
            }
            guard n <= tracks.count else {
                throw FacekitError(status: Int32(truncatingIfNeeded: FK_ERR_INTERNAL.rawValue),
                                   message: "\(n) tracks in one frame, room for \(tracks.count)")
            }
            return tracks.prefix(n).map(Track.init)
        }
    }

    /// Every event queued since the last poll, oldest first (the library keeps the latest 4,096).
    public func pollEvents() throws -> [TrackEvent] {
        try call { t -> [TrackEvent] in
            var out: [TrackEvent] = []
            var batch = [fk_event](repeating: fk_event(), count: 64)
            var n = 0
            repeat {
                try check(batch.withUnsafeMutableBufferPointer { fk_tracker_poll_events(t, $0.baseAddress, $0.count, &n) })
                out += batch.prefix(n).map(TrackEvent.init)
            } while n == batch.count
            return out
        }
    }

    /// The embedding of a live track's best capture (unit length) — what an enrolment from the camera stores
    /// with `Gallery.enroll`. FK_ERR_NOT_FOUND if the track is not live or has no good capture yet.
    public func bestEmbedding(track: UInt64) throws -> [Float] {
        try call { t -> [Float] in
            var out = [Float](repeating: 0, count: engine.embeddingDim)
            try check(out.withUnsafeMutableBufferPointer { fk_tracker_best_embedding(t, track, $0.baseAddress, $0.count) })
            return out
        }
    }

    /// Forgets every track and queued event (a new stream); settings and reference stay.
    public func reset() throws {
        try call { t in try check(fk_tracker_reset(t)) }
    }
}
