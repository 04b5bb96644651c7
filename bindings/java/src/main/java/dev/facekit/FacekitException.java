package dev.facekit;

import java.nio.charset.StandardCharsets;

/**
 * A failed facekit call: the C status code ({@link #status()}), its C name ({@link #statusName()}, e.g.
 * {@code "FK_ERR_INVALID_IMAGE"}) and the library's {@code fk_last_error()} message.
 */
public class FacekitException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    // Status codes of include/facekit.h (stable across versions).
    public static final int FK_OK = 0;
    public static final int FK_ERR_NULL_ARGUMENT = 1;
    public static final int FK_ERR_INVALID_ARGUMENT = 2;
    public static final int FK_ERR_BUFFER_TOO_SMALL = 3;
    public static final int FK_ERR_INVALID_IMAGE = 4;
    public static final int FK_ERR_MODEL_LOAD = 5;
    public static final int FK_ERR_MODEL_FORMAT = 6;
    public static final int FK_ERR_MODEL_CHECKSUM = 7;
    public static final int FK_ERR_NO_FACE = 8;
    public static final int FK_ERR_IO = 9;
    public static final int FK_ERR_CORRUPT = 10;
    public static final int FK_ERR_INCOMPATIBLE = 11;
    public static final int FK_ERR_NOT_FOUND = 12;
    public static final int FK_ERR_UNSUPPORTED = 13;
    public static final int FK_ERR_DECODE = 14;
    /** A deciding call refused the capture for its quality (the message says what to change). */
    public static final int FK_ERR_POOR_QUALITY = 15;
    /** A deciding call refused the capture as a presentation attack: tell the user "show your real face". */
    public static final int FK_ERR_NOT_LIVE = 16;
    public static final int FK_ERR_INTERNAL = 98;
    public static final int FK_ERR_PANIC = 99;

    private final int status;
    private final String detail;

    public FacekitException(int status, String detail) {
        super(statusName(status) + (detail == null || detail.isEmpty() ? "" : ": " + detail));
        this.status = status;
        this.detail = detail == null ? "" : detail;
    }

    /** Called by the JNI shim: the message arrives as UTF-8 bytes (JNI strings are "modified UTF-8"). */
    FacekitException(int status, byte[] utf8Detail) {
        this(status, utf8Detail == null ? "" : new String(utf8Detail, StandardCharsets.UTF_8));
    }

    /** The {@code fk_status} value. */
    public int status() {
        return status;
    }

    /** The C name of the status, e.g. {@code "FK_ERR_NO_FACE"}. */
    public String statusName() {
        return statusName(status);
    }

    /** The library's message for the failed call ({@code fk_last_error()}), without the status name. */
    public String detail() {
        return detail;
    }

    public static String statusName(int status) {
        switch (status) {
            case FK_OK: return "FK_OK";
            case FK_ERR_NULL_ARGUMENT: return "FK_ERR_NULL_ARGUMENT";
            case FK_ERR_INVALID_ARGUMENT: return "FK_ERR_INVALID_ARGUMENT";
            case FK_ERR_BUFFER_TOO_SMALL: return "FK_ERR_BUFFER_TOO_SMALL";
            case FK_ERR_INVALID_IMAGE: return "FK_ERR_INVALID_IMAGE";
            case FK_ERR_MODEL_LOAD: return "FK_ERR_MODEL_LOAD";
            case FK_ERR_MODEL_FORMAT: return "FK_ERR_MODEL_FORMAT";
            case FK_ERR_MODEL_CHECKSUM: return "FK_ERR_MODEL_CHECKSUM";
            case FK_ERR_NO_FACE: return "FK_ERR_NO_FACE";
            case FK_ERR_IO: return "FK_ERR_IO";
            case FK_ERR_CORRUPT: return "FK_ERR_CORRUPT";
            case FK_ERR_INCOMPATIBLE: return "FK_ERR_INCOMPATIBLE";
            case FK_ERR_NOT_FOUND: return "FK_ERR_NOT_FOUND";
            case FK_ERR_UNSUPPORTED: return "FK_ERR_UNSUPPORTED";
            case FK_ERR_DECODE: return "FK_ERR_DECODE";
            case FK_ERR_POOR_QUALITY: return "FK_ERR_POOR_QUALITY";
            case FK_ERR_NOT_LIVE: return "FK_ERR_NOT_LIVE";
            case FK_ERR_INTERNAL: return "FK_ERR_INTERNAL";
            case FK_ERR_PANIC: return "FK_ERR_PANIC";
            default: return "FK_STATUS_" + status;
        }
    }

    /** An argument error found on the Java side before calling C (the status C would give). */
    static FacekitException invalid(String detail) {
        return new FacekitException(FK_ERR_INVALID_ARGUMENT, detail);
    }
}
