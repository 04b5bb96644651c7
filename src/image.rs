//! Image input: [`ImageView`] describes the caller's frame (any supported pixel format, stride and camera
//! rotation) without copying it; [`Image`] is the one owned image type of the pipeline — upright, tightly
//! packed RGB8 — made from a view in a single pass. Every layout decision is checked here, in safe code,
//! with checked arithmetic: a wrong width/height/stride/length is an [`Error::InvalidImage`], never a panic.

use crate::error::{Error, Result};
use crate::read::{read_limited, ReadError};
use crate::simd::dispatched;
use std::path::Path;

// Limits (README "Limits"): what a frame or an image file may cost a small device at most.
/// Largest accepted side, in pixels. Bigger frames are refused rather than risking a huge allocation on a
/// small device; downscale first. Above it: [`Error::InvalidImage`] (a view), [`Error::Decode`] (a file).
pub const MAX_SIDE: u32 = 16384;
/// Largest accepted pixel count (64 megapixels: an 8000×8000 frame; a 10000×10000 one is refused). Above
/// it: [`Error::InvalidImage`] (a view), [`Error::Decode`] (a file).
pub const MAX_PIXELS: u64 = 64 * 1024 * 1024;
/// Largest encoded image file [`Image::open`] reads (a 64-megapixel JPEG is ~30 MB). Above it:
/// [`Error::InvalidImage`], before anything is read.
pub const MAX_FILE_BYTES: u64 = 128 * 1024 * 1024;
/// Most bytes a decoder may allocate for one image (the decoded pixels at up to 4 bytes each). Above it:
/// [`Error::Decode`].
pub const MAX_DECODE_ALLOC: u64 = MAX_PIXELS * 4;

/// Pixel layouts a camera or decoder delivers. C values are explicit and stable.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PixelFormat {
    /// 3 bytes per pixel, R G B.
    Rgb8 = 1,
    /// 3 bytes per pixel, B G R (OpenCV's default).
    Bgr8 = 2,
    /// 4 bytes per pixel, R G B A (alpha ignored).
    Rgba8 = 3,
    /// 4 bytes per pixel, B G R A (alpha ignored; iOS `kCVPixelFormatType_32BGRA`).
    Bgra8 = 4,
    /// 1 byte per pixel, luma.
    Gray8 = 5,
    /// Y plane (`stride` bytes per row, `height` rows) then one interleaved V/U plane of ⌈height/2⌉ rows with
    /// the same stride (Android camera default).
    Nv21 = 6,
    /// As NV21 with U/V order (U first).
    Nv12 = 7,
    /// Y plane (`stride`), then U plane then V plane, each ⌈height/2⌉ rows of stride ⌈stride/2⌉.
    I420 = 8,
    /// 4:2:0 in three separately addressed planes — Y (`stride`), U and V with their own row stride and pixel
    /// stride — as cameras hand them over: Android's `YUV_420_888` (pixel stride 1 = planar; 2 = the U and V
    /// planes interleave, NV21/NV12 style) and iOS's bi-planar `CVPixelBuffer` (plane 1 is CbCr: U at its base,
    /// V one byte on, pixel stride 2). Described with [`ImageView::planar`].
    Yuv420 = 9,
}

impl PixelFormat {
    /// Maps a C integer to a format by checking, never by transmuting.
    pub fn from_i32(v: i32) -> Option<Self> {
        use PixelFormat::*;
        Some(match v {
            1 => Rgb8,
            2 => Bgr8,
            3 => Rgba8,
            4 => Bgra8,
            5 => Gray8,
            6 => Nv21,
            7 => Nv12,
            8 => I420,
            9 => Yuv420,
            _ => return None,
        })
    }
    /// Bytes per pixel of the (first) plane.
    pub fn bytes_per_pixel(self) -> usize {
        match self {
            PixelFormat::Rgb8 | PixelFormat::Bgr8 => 3,
            PixelFormat::Rgba8 | PixelFormat::Bgra8 => 4,
            _ => 1,
        }
    }
}

/// Clockwise rotation that turns the buffer upright (Android's `rotationDegrees`, iOS's orientation).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Rotation {
    #[default]
    R0 = 0,
    R90 = 90,
    R180 = 180,
    R270 = 270,
}

impl Rotation {
    /// Maps degrees (0/90/180/270) to a rotation; anything else is `None`.
    pub fn from_degrees(v: i32) -> Option<Self> {
        Some(match v {
            0 => Rotation::R0,
            90 => Rotation::R90,
            180 => Rotation::R180,
            270 => Rotation::R270,
            _ => return None,
        })
    }
}

/// A borrowed, validated description of a caller's frame. Creating one checks the layout; it copies nothing.
#[derive(Clone, Copy, Debug)]
pub struct ImageView<'a> {
    /// The pixels, or the Y plane of [`PixelFormat::Yuv420`].
    data: &'a [u8],
    width: u32,
    height: u32,
    stride: usize,
    format: PixelFormat,
    rotation: Rotation,
    /// The U and V planes of [`PixelFormat::Yuv420`].
    chroma: Option<Chroma<'a>>,
}

/// The separately addressed chroma planes of a [`PixelFormat::Yuv420`] frame: the sample of chroma pixel
/// (cx, cy) is at `cy * row_stride + cx * pixel_stride` in each.
#[derive(Clone, Copy, Debug)]
struct Chroma<'a> {
    u: &'a [u8],
    v: &'a [u8],
    row_stride: usize,
    pixel_stride: usize,
}

fn bad(msg: String) -> Error {
    Error::InvalidImage(msg)
}

fn check_size(width: u32, height: u32) -> Result<()> {
    if width == 0 || height == 0 {
        return Err(bad(format!("empty image {width}x{height}")));
    }
    if width > MAX_SIDE || height > MAX_SIDE || (width as u64) * (height as u64) > MAX_PIXELS {
        return Err(bad(format!(
            "image {width}x{height} is too large (max {MAX_SIDE} px a side, {MAX_PIXELS} pixels); downscale it first"
        )));
    }
    Ok(())
}

impl<'a> ImageView<'a> {
    /// Describes `data` as a `width`×`height` frame whose rows start every `stride` bytes (for YUV formats
    /// `stride` is the luma row stride; see [`PixelFormat`] for the plane layout). The last row may be short
    /// (only `width·bpp` bytes), as Android camera planes are.
    pub fn new(
        data: &'a [u8],
        width: u32,
        height: u32,
        stride: usize,
        format: PixelFormat,
        rotation: Rotation,
    ) -> Result<Self> {
        if format == PixelFormat::Yuv420 {
            return Err(bad("Yuv420 frames have three planes: describe them with ImageView::planar".into()));
        }
        check_size(width, height)?;
        let needed = Self::required_len(width, height, stride, format)?;
        if data.len() < needed {
            return Err(bad(format!(
                "buffer holds {} bytes but a {width}x{height} {format:?} image with stride {stride} needs {needed}",
                data.len()
            )));
        }
        Ok(ImageView { data, width, height, stride, format, rotation, chroma: None })
    }

    /// Describes a [`PixelFormat::Yuv420`] frame given as three planes: `y` with rows `stride` bytes apart, and
    /// `u` and `v`, ⌈height/2⌉ rows of ⌈width/2⌉ samples, rows `uv_row_stride` bytes apart and samples
    /// `uv_pixel_stride` bytes apart (the planes may overlap, as interleaved U/V do). Each plane's last row may
    /// be short, as Android's are.
    #[allow(clippy::too_many_arguments)]
    pub fn planar(
        y: &'a [u8],
        stride: usize,
        u: &'a [u8],
        v: &'a [u8],
        uv_row_stride: usize,
        uv_pixel_stride: usize,
        width: u32,
        height: u32,
        rotation: Rotation,
    ) -> Result<Self> {
        check_size(width, height)?;
        let needed = Self::required_len(width, height, stride, PixelFormat::Gray8)?;
        if y.len() < needed {
            return Err(bad(format!("Y plane holds {} bytes, a {width}x{height} frame with stride {stride} needs {needed}", y.len())));
        }
        let (cw, ch) = ((width as usize).div_ceil(2), (height as usize).div_ceil(2));
        if uv_pixel_stride == 0 || uv_pixel_stride > 8 {
            return Err(bad(format!("chroma pixel stride {uv_pixel_stride} is not in 1..=8")));
        }
        // The last chroma row: (cw - 1) pixel strides and one byte.
        let row = (cw - 1).checked_mul(uv_pixel_stride).map(|r| r + 1);
        let needed = row
            .filter(|&r| uv_row_stride >= r)
            .and_then(|r| uv_row_stride.checked_mul(ch - 1)?.checked_add(r))
            .ok_or_else(|| bad(format!("chroma row stride {uv_row_stride} is less than a {cw}-sample row at pixel stride {uv_pixel_stride}")))?;
        for (name, p) in [("U", u), ("V", v)] {
            if p.len() < needed {
                return Err(bad(format!("{name} plane holds {} bytes, {needed} needed", p.len())));
            }
        }
        let chroma = Some(Chroma { u, v, row_stride: uv_row_stride, pixel_stride: uv_pixel_stride });
        Ok(ImageView { data: y, width, height, stride, format: PixelFormat::Yuv420, rotation, chroma })
    }

    /// A tightly packed view (stride = width · bytes per pixel), upright.
    pub fn packed(data: &'a [u8], width: u32, height: u32, format: PixelFormat) -> Result<Self> {
        let stride = (width as usize)
            .checked_mul(format.bytes_per_pixel())
            .ok_or_else(|| bad("stride overflows".into()))?;
        Self::new(data, width, height, stride, format, Rotation::R0)
    }

    /// Minimum buffer length for this layout, or an error if the stride is too small or sizes overflow.
    pub fn required_len(width: u32, height: u32, stride: usize, format: PixelFormat) -> Result<usize> {
        let (w, h) = (width as usize, height as usize);
        let overflow = || bad(format!("size of a {width}x{height} image with stride {stride} overflows"));
        let row = w.checked_mul(format.bytes_per_pixel()).ok_or_else(overflow)?;
        if stride < row {
            return Err(bad(format!("stride {stride} is less than width x bytes-per-pixel = {row}")));
        }
        // Bytes for `rows` rows of `row_len` bytes `stride` apart, the last one possibly short.
        let plane = |rows: usize, stride: usize, row_len: usize| -> Option<usize> {
            stride.checked_mul(rows.checked_sub(1)?)?.checked_add(row_len)
        };
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        let len = match format {
            PixelFormat::Nv21 | PixelFormat::Nv12 => {
                if stride < 2 * cw {
                    return Err(bad(format!("stride {stride} is less than the chroma row {}", 2 * cw)));
                }
                stride.checked_mul(h).and_then(|y| y.checked_add(plane(ch, stride, 2 * cw)?))
            }
            PixelFormat::Yuv420 => return Err(bad("Yuv420 frames have three planes: see ImageView::planar".into())),
            PixelFormat::I420 => {
                let cs = stride.div_ceil(2);
                let chroma = cs.checked_mul(ch);
                stride
                    .checked_mul(h)
                    .and_then(|y| y.checked_add(chroma?)?.checked_add(plane(ch, cs, cw)?))
            }
            _ => plane(h, stride, row),
        };
        len.ok_or_else(overflow)
    }

    pub fn width(&self) -> u32 {
        self.width
    }
    pub fn height(&self) -> u32 {
        self.height
    }
    pub fn format(&self) -> PixelFormat {
        self.format
    }
    pub fn rotation(&self) -> Rotation {
        self.rotation
    }
    /// Width and height of the upright image (swapped for 90°/270°).
    pub fn upright_size(&self) -> (u32, u32) {
        match self.rotation {
            Rotation::R90 | Rotation::R270 => (self.height, self.width),
            _ => (self.width, self.height),
        }
    }

    /// RGB of buffer pixel (x, y) of a packed (non-YUV) format. Bounds were validated at construction.
    #[inline]
    fn rgb_at(&self, x: usize, y: usize) -> [u8; 3] {
        let d = self.data;
        let s = self.stride;
        match self.format {
            PixelFormat::Rgb8 => {
                let i = y * s + 3 * x;
                [d[i], d[i + 1], d[i + 2]]
            }
            PixelFormat::Bgr8 => {
                let i = y * s + 3 * x;
                [d[i + 2], d[i + 1], d[i]]
            }
            PixelFormat::Rgba8 => {
                let i = y * s + 4 * x;
                [d[i], d[i + 1], d[i + 2]]
            }
            PixelFormat::Bgra8 => {
                let i = y * s + 4 * x;
                [d[i + 2], d[i + 1], d[i]]
            }
            PixelFormat::Gray8 => {
                let g = d[y * s + x];
                [g, g, g]
            }
            PixelFormat::Nv21 | PixelFormat::Nv12 | PixelFormat::I420 | PixelFormat::Yuv420 => {
                unreachable!("YUV frames are converted a row at a time (ImageView::yuv_to_image)")
            }
        }
    }

    /// Converts to an upright, tightly packed RGB8 [`Image`]: the one pass over the caller's pixels.
    pub fn to_image(&self) -> Image {
        let (uw, uh) = self.upright_size();
        let (uw, uh) = (uw as usize, uh as usize);
        let mut out = vec![0u8; uw * uh * 3];
        // Fast path: already upright RGB — copy whole rows.
        if self.format == PixelFormat::Rgb8 && self.rotation == Rotation::R0 {
            for (y, dst) in out.chunks_exact_mut(uw * 3).enumerate() {
                dst.copy_from_slice(&self.data[y * self.stride..y * self.stride + uw * 3]);
            }
        } else if matches!(self.format, PixelFormat::Nv21 | PixelFormat::Nv12 | PixelFormat::I420 | PixelFormat::Yuv420) {
            return self.yuv_to_image();
        } else {
            convert(self, &mut out, uw);
        }
        Image { width: uw as u32, height: uh as u32, pixels: out }
    }

    /// [`to_image`](Self::to_image) for the YUV 4:2:0 formats: a row at a time in buffer order (each row's
    /// chroma spread to full width first, so that [`yuv_row`] is one vectorisable loop), then rotated as RGB.
    /// 1280x720 NV21 upright: 0.4x the time of the former pixel-by-pixel conversion (BENCHMARKS.md).
    fn yuv_to_image(&self) -> Image {
        let (w, h, s, d) = (self.width as usize, self.height as usize, self.stride, self.data);
        let mut rgb = vec![0u8; w * h * 3];
        let (mut u, mut v) = (vec![0u8; w], vec![0u8; w]);
        for (y, dst) in rgb.chunks_exact_mut(w * 3).enumerate() {
            match self.format {
                PixelFormat::Nv21 | PixelFormat::Nv12 => {
                    // Interleaved chroma plane after the luma plane, one pair per 2x2 pixels.
                    let c = s * h + (y / 2) * s;
                    let (iu, iv) = if self.format == PixelFormat::Nv12 { (0, 1) } else { (1, 0) };
                    for (x, (u, v)) in u.iter_mut().zip(v.iter_mut()).enumerate() {
                        (*u, *v) = (d[c + 2 * (x / 2) + iu], d[c + 2 * (x / 2) + iv]);
                    }
                }
                PixelFormat::Yuv420 => {
                    // Separate planes with their own row and pixel strides (validated at construction).
                    let c = self.chroma.as_ref().expect("a Yuv420 view has chroma planes");
                    let row = (y / 2) * c.row_stride;
                    for (x, (u, v)) in u.iter_mut().zip(v.iter_mut()).enumerate() {
                        let i = row + (x / 2) * c.pixel_stride;
                        (*u, *v) = (c.u[i], c.v[i]);
                    }
                }
                _ => {
                    // I420: U plane then V plane, each ceil(stride / 2) wide and ceil(height / 2) high.
                    let (cs, ch) = (s.div_ceil(2), h.div_ceil(2));
                    let (u0, v0) = (s * h + (y / 2) * cs, s * h + cs * ch + (y / 2) * cs);
                    for (x, (u, v)) in u.iter_mut().zip(v.iter_mut()).enumerate() {
                        (*u, *v) = (d[u0 + x / 2], d[v0 + x / 2]);
                    }
                }
            }
            yuv_row(&d[y * s..y * s + w], &u, &v, dst);
        }
        if self.rotation == Rotation::R0 {
            return Image { width: w as u32, height: h as u32, pixels: rgb };
        }
        ImageView { data: &rgb, width: self.width, height: self.height, stride: w * 3, format: PixelFormat::Rgb8, rotation: self.rotation, chroma: None }
            .to_image()
    }
}

dispatched! {
/// One row of YUV (chroma at full width) to RGB. Dispatched per CPU: from SSE4.1 on, the rounding in
/// [`yuv_to_rgb`] is inline and vectorised instead of a libm call per channel.
fn yuv_row(luma: &[u8], u: &[u8], v: &[u8], out: &mut [u8]) {
    for (((o, &y), &u), &v) in out.chunks_exact_mut(3).zip(luma).zip(u).zip(v) {
        o.copy_from_slice(&yuv_to_rgb(y, u, v));
    }
}
}

/// The pixel-by-pixel part of [`ImageView::to_image`] for packed formats into `out` (rows of `uw` upright RGB
/// pixels). Compiled for the baseline only: AVX2/AVX-512 builds of this gather-like loop measured no faster.
fn convert(view: &ImageView, out: &mut [u8], uw: usize) {
    let (w, h) = (view.width as usize, view.height as usize);
    for (uy, dst) in out.chunks_exact_mut(uw * 3).enumerate() {
        for ux in 0..uw {
            // Upright pixel (ux, uy) comes from buffer pixel (x, y).
            let (x, y) = match view.rotation {
                Rotation::R0 => (ux, uy),
                Rotation::R90 => (uy, h - 1 - ux),
                Rotation::R180 => (w - 1 - ux, h - 1 - uy),
                Rotation::R270 => (w - 1 - uy, ux),
            };
            dst[3 * ux..3 * ux + 3].copy_from_slice(&view.rgb_at(x, y));
        }
    }
}

/// BT.601 full-range (JFIF) YUV → RGB, the range Android and iOS cameras use for their YUV 4:2:0 output.
#[inline(always)]
fn yuv_to_rgb(y: u8, u: u8, v: u8) -> [u8; 3] {
    let (y, u, v) = (y as f32, u as f32 - 128.0, v as f32 - 128.0);
    let c = |x: f32| x.round().clamp(0.0, 255.0) as u8;
    [c(y + 1.402 * v), c(y - 0.344_136 * u - 0.714_136 * v), c(y + 1.772 * u)]
}

/// The pipeline's one owned image: upright, tightly packed RGB8. Aligned face crops are `Image`s too.
#[derive(Clone, Debug, PartialEq)]
pub struct Image {
    width: u32,
    height: u32,
    pixels: Vec<u8>,
}

impl Image {
    /// Wraps packed RGB8 pixels; the length must be exactly `width·height·3`.
    pub fn from_rgb(width: u32, height: u32, pixels: Vec<u8>) -> Result<Self> {
        ImageView::packed(&pixels, width, height, PixelFormat::Rgb8)?;
        if pixels.len() != width as usize * height as usize * 3 {
            return Err(bad(format!("{} bytes is not {width}x{height}x3", pixels.len())));
        }
        Ok(Image { width, height, pixels })
    }
    pub(crate) fn zeroed(width: u32, height: u32) -> Self {
        Image { width, height, pixels: vec![0; width as usize * height as usize * 3] }
    }
    /// Decodes a JPEG, PNG or WebP file of at most [`MAX_FILE_BYTES`] (checked before reading).
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = read_limited(path, MAX_FILE_BYTES).map_err(|e| match e {
            ReadError::Io(e) => Error::io(path, e),
            ReadError::TooLarge(n) => {
                bad(format!("{}: {n} bytes is more than the {MAX_FILE_BYTES}-byte limit of an image file", path.display()))
            }
        })?;
        Self::decode(&bytes).map_err(|e| match e {
            Error::Decode { msg, .. } => Error::Decode { path: path.display().to_string(), msg },
            e => e,
        })
    }
    /// Decodes JPEG, PNG or WebP bytes. The size in the file's header is checked against [`MAX_SIDE`] and
    /// [`MAX_PIXELS`] before any pixel is decoded, and the decoder may allocate at most [`MAX_DECODE_ALLOC`].
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        use image::ImageDecoder;
        let derr = |msg: String| Error::Decode { path: "<memory>".into(), msg };
        let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| derr(e.to_string()))?;
        let mut limits = image::Limits::default();
        limits.max_image_width = Some(MAX_SIDE);
        limits.max_image_height = Some(MAX_SIDE);
        limits.max_alloc = Some(MAX_DECODE_ALLOC);
        reader.limits(limits.clone());
        let decoder = reader.into_decoder().map_err(|e| derr(e.to_string()))?;
        let (w, h) = decoder.dimensions();
        if u64::from(w) * u64::from(h) > MAX_PIXELS {
            return Err(derr(format!("{w}x{h} is more than the {MAX_PIXELS}-pixel limit; downscale it first")));
        }
        limits.reserve(decoder.total_bytes()).map_err(|e| derr(e.to_string()))?;
        let img = image::DynamicImage::from_decoder(decoder).map_err(|e| derr(e.to_string()))?;
        let rgb = img.into_rgb8();
        let (w, h) = rgb.dimensions();
        Image::from_rgb(w, h, rgb.into_raw())
    }
    /// Writes a PNG/JPEG (by extension), e.g. to inspect an aligned crop.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        image::save_buffer(path, &self.pixels, self.width, self.height, image::ExtendedColorType::Rgb8)
            .map_err(|e| Error::io(path, std::io::Error::other(e.to_string())))
    }
    pub fn width(&self) -> u32 {
        self.width
    }
    pub fn height(&self) -> u32 {
        self.height
    }
    /// Packed RGB8 bytes, row after row.
    pub fn pixels(&self) -> &[u8] {
        &self.pixels
    }
    /// The packed RGB8 bytes, taken out.
    pub fn into_pixels(self) -> Vec<u8> {
        self.pixels
    }
    pub(crate) fn pixels_mut(&mut self) -> &mut [u8] {
        &mut self.pixels
    }
    /// This image as an upright RGB8 view.
    pub fn view(&self) -> ImageView<'_> {
        ImageView {
            data: &self.pixels,
            width: self.width,
            height: self.height,
            stride: self.width as usize * 3,
            format: PixelFormat::Rgb8,
            rotation: Rotation::R0,
            chroma: None,
        }
    }
    /// The pixels of the rectangle `x..x+w`, `y..y+h` (which must lie inside the image) as a new image.
    pub fn crop(&self, x: u32, y: u32, w: u32, h: u32) -> Result<Image> {
        let inside = x.checked_add(w).is_some_and(|r| r <= self.width) && y.checked_add(h).is_some_and(|b| b <= self.height);
        if w == 0 || h == 0 || !inside {
            return Err(bad(format!("crop {w}x{h} at ({x},{y}) is empty or outside the {}x{} image", self.width, self.height)));
        }
        let (stride, row) = (self.width as usize * 3, w as usize * 3);
        let mut pixels = Vec::with_capacity(row * h as usize);
        for r in y as usize..(y + h) as usize {
            let start = r * stride + x as usize * 3;
            pixels.extend_from_slice(&self.pixels[start..start + row]);
        }
        Ok(Image { width: w, height: h, pixels })
    }
    /// Copies `src` into this image with its top-left corner at (x, y); it must fit.
    pub fn paste(&mut self, src: &Image, x: u32, y: u32) -> Result<()> {
        let fits = x.checked_add(src.width).is_some_and(|r| r <= self.width) && y.checked_add(src.height).is_some_and(|b| b <= self.height);
        if !fits {
            return Err(bad(format!("a {}x{} image does not fit at ({x},{y}) in {}x{}", src.width, src.height, self.width, self.height)));
        }
        let (row, stride) = (src.width as usize * 3, self.width as usize * 3);
        for (r, line) in src.pixels.chunks_exact(row).enumerate() {
            let start = (y as usize + r) * stride + x as usize * 3;
            self.pixels[start..start + row].copy_from_slice(line);
        }
        Ok(())
    }
    /// RGB at integer coordinates; (0,0,0) outside (the constant border the aligner uses).
    #[inline]
    pub(crate) fn get(&self, x: i64, y: i64) -> [f32; 3] {
        if x < 0 || y < 0 || x >= self.width as i64 || y >= self.height as i64 {
            return [0.0; 3];
        }
        let i = (y as usize * self.width as usize + x as usize) * 3;
        [self.pixels[i] as f32, self.pixels[i + 1] as f32, self.pixels[i + 2] as f32]
    }
}

/// Bilinear resize bit-exact with OpenCV's `INTER_LINEAR` on 8-bit images (`cv2.resize`, the reference
/// pipeline's): pixel centres aligned, no anti-aliasing, 11-bit fixed-point weights, and the rounding of
/// OpenCV's SIMD vertical pass. Matching the detector input byte for byte is what makes our landmarks match
/// the reference's; a float resize differs in ~10 % of bytes by one level and moves landmarks by tenths of
/// a pixel. Verified to be identical to cv2.resize on every image of data/faces at 160, 320 and 640.
pub fn resize(img: &Image, w: u32, h: u32) -> Result<Image> {
    if w == 0 || h == 0 {
        return Err(Error::invalid("resize to an empty size"));
    }
    let (sw, sh) = (img.width() as usize, img.height() as usize);
    // Source index and fraction as OpenCV computes them: in double, then rounded to float.
    let frac = |d: usize, scale: f64| -> (isize, f32) {
        let f = ((d as f64 + 0.5) * scale - 0.5) as f32;
        let i = f.floor();
        (i as isize, f - i)
    };
    let weights = |a: f32| -> (i32, i32) { (((1.0 - a) * 2048.0).round_ties_even() as i32, (a * 2048.0).round_ties_even() as i32) };
    // Columns: an index outside the image is clamped together with its fraction (OpenCV's xofs/alpha tables).
    let xt: Vec<(usize, usize, i32, i32)> = (0..w as usize)
        .map(|d| {
            let (mut i, mut a) = frac(d, sw as f64 / w as f64);
            if i < 0 {
                (i, a) = (0, 0.0);
            }
            if i as usize >= sw - 1 {
                (i, a) = (sw as isize - 1, 0.0);
            }
            let (a0, a1) = weights(a);
            (i as usize, (i as usize + 1).min(sw - 1), a0, a1)
        })
        .collect();
    // Rows: the fraction is kept and the two source rows are clamped (OpenCV's yofs/beta tables).
    let yt: Vec<(usize, usize, i32, i32)> = (0..h as usize)
        .map(|d| {
            let (i, b) = frac(d, sh as f64 / h as f64);
            let (b0, b1) = weights(b);
            (i.clamp(0, sh as isize - 1) as usize, (i + 1).clamp(0, sh as isize - 1) as usize, b0, b1)
        })
        .collect();
    let px = img.pixels();
    let row = |y: usize, out: &mut Vec<i32>| {
        out.clear();
        let r = &px[y * sw * 3..(y + 1) * sw * 3];
        for &(x0, x1, a0, a1) in &xt {
            for c in 0..3 {
                out.push(r[3 * x0 + c] as i32 * a0 + r[3 * x1 + c] as i32 * a1);
            }
        }
    };
    let mut out = Image::zeroed(w, h);
    let (mut top, mut bot) = (Vec::with_capacity(w as usize * 3), Vec::with_capacity(w as usize * 3));
    let mut cached = (usize::MAX, usize::MAX);
    for (dst, &(y0, y1, b0, b1)) in out.pixels_mut().chunks_exact_mut(w as usize * 3).zip(&yt) {
        if cached != (y0, y1) {
            row(y0, &mut top);
            row(y1, &mut bot);
            cached = (y0, y1);
        }
        for ((d, &t), &u) in dst.iter_mut().zip(&top).zip(&bot) {
            // OpenCV's vector path: 16-bit high multiplies of the row sums pre-shifted by 4, then (v + 2) >> 2.
            let v = (((t >> 4) * b0) >> 16) + (((u >> 4) * b1) >> 16);
            *d = ((v + 2) >> 2).clamp(0, 255) as u8;
        }
    }
    Ok(out)
}

/// What a camera does to a face, for calibrating on photos re-rendered as a camera would capture them
/// ([`crate::eval::resolution`]): blur, sensor noise, JPEG compression and low resolution.
pub mod degrade {
    use super::{resize, Image};
    use crate::error::{Error, Result};

    /// Gaussian blur of standard deviation `sigma` pixels (separable, edges clamped); `sigma <= 0.05` copies.
    pub fn gaussian_blur(img: &Image, sigma: f32) -> Image {
        if !(sigma > 0.05) {
            return img.clone();
        }
        let r = (3.0 * sigma).ceil() as isize;
        let k: Vec<f32> = (-r..=r).map(|i| (-(i * i) as f32 / (2.0 * sigma * sigma)).exp()).collect();
        let sum: f32 = k.iter().sum();
        let k: Vec<f32> = k.iter().map(|v| v / sum).collect();
        let (w, h) = (img.width() as isize, img.height() as isize);
        let pass = |src: &[u8], horizontal: bool| -> Vec<u8> {
            let mut out = vec![0u8; src.len()];
            for y in 0..h {
                for x in 0..w {
                    for c in 0..3 {
                        let mut acc = 0.0;
                        for (j, kv) in k.iter().enumerate() {
                            let d = j as isize - r;
                            let (sx, sy) = if horizontal { ((x + d).clamp(0, w - 1), y) } else { (x, (y + d).clamp(0, h - 1)) };
                            acc += kv * src[((sy * w + sx) * 3 + c) as usize] as f32;
                        }
                        out[((y * w + x) * 3 + c) as usize] = acc.round().clamp(0.0, 255.0) as u8;
                    }
                }
            }
            out
        };
        let tmp = pass(img.pixels(), true);
        Image { width: img.width(), height: img.height(), pixels: pass(&tmp, false) }
    }

    /// Downscales by `scale` (< 1) as a camera sensor would see the scene: low-pass first (σ = 0.5 / scale
    /// source pixels, so fine detail does not alias), then bilinear.
    pub fn downscale(img: &Image, scale: f32) -> Result<Image> {
        if !(scale > 0.0 && scale <= 1.0) {
            return Err(Error::invalid(format!("downscale factor {scale} is not in (0, 1]")));
        }
        let (w, h) = (((img.width() as f32 * scale).round() as u32).max(1), ((img.height() as f32 * scale).round() as u32).max(1));
        resize(&gaussian_blur(img, 0.5 / scale - 0.5), w, h)
    }

    /// Encodes as JPEG at `quality` (1–100) and decodes again: the block artefacts of a compressed stream.
    pub fn jpeg(img: &Image, quality: u8) -> Result<Image> {
        let mut buf = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut buf, quality.clamp(1, 100))
            .encode(img.pixels(), img.width(), img.height(), image::ExtendedColorType::Rgb8)
            .map_err(|e| Error::Internal(format!("JPEG encoding: {e}")))?;
        Image::decode(&buf)
    }

    /// Adds Gaussian noise of `sigma` levels to every byte, from a generator seeded with `seed` (reproducible).
    pub fn noise(img: &Image, sigma: f32, seed: u64) -> Image {
        let mut rng = Rng(seed);
        let mut out = img.clone();
        for p in out.pixels.iter_mut() {
            *p = (*p as f32 + sigma * rng.normal()).round().clamp(0.0, 255.0) as u8;
        }
        out
    }

    /// splitmix64: a small, well-mixed, seedable generator (calibration renders must be reproducible).
    pub struct Rng(pub u64);
    impl Rng {
        pub fn next_u64(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
        /// Uniform in [0, 1).
        pub fn uniform(&mut self) -> f32 {
            (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
        }
        /// Standard normal (Box–Muller).
        pub fn normal(&mut self) -> f32 {
            let (u, v) = (self.uniform().max(1e-7), self.uniform());
            (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient(w: u32, h: u32) -> Image {
        let mut p = Vec::new();
        for y in 0..h {
            for x in 0..w {
                p.extend_from_slice(&[(x * 40) as u8, (y * 40) as u8, ((x + y) * 20) as u8]);
            }
        }
        Image::from_rgb(w, h, p).unwrap()
    }

    #[test]
    fn degradations_change_what_they_should() {
        let img = gradient(40, 30);
        let blurred = degrade::gaussian_blur(&img, 1.5);
        assert_eq!((blurred.width(), blurred.height()), (40, 30));
        assert_ne!(blurred, img);
        assert_eq!(degrade::gaussian_blur(&img, 0.0), img);
        let flat = Image::from_rgb(8, 8, vec![77; 192]).unwrap();
        assert_eq!(degrade::gaussian_blur(&flat, 2.0), flat, "blur keeps a flat image flat");
        let small = degrade::downscale(&img, 0.5).unwrap();
        assert_eq!((small.width(), small.height()), (20, 15));
        assert!(degrade::downscale(&img, 1.5).is_err() && degrade::downscale(&img, 0.0).is_err());
        let j = degrade::jpeg(&img, 30).unwrap();
        assert_eq!((j.width(), j.height()), (40, 30));
        let (a, b) = (degrade::noise(&flat, 5.0, 7), degrade::noise(&flat, 5.0, 7));
        assert_eq!(a, b, "same seed, same noise");
        assert_ne!(a, flat);
        let mean = a.pixels().iter().map(|&v| v as f32).sum::<f32>() / 192.0;
        assert!((mean - 77.0).abs() < 2.0, "{mean}");
    }

    #[test]
    fn rejects_bad_layouts() {
        let buf = vec![0u8; 100];
        assert!(ImageView::new(&buf, 0, 5, 15, PixelFormat::Rgb8, Rotation::R0).is_err());
        assert!(ImageView::new(&buf, 5, 5, 14, PixelFormat::Rgb8, Rotation::R0).is_err()); // stride < 15
        assert!(ImageView::new(&buf, 6, 6, 18, PixelFormat::Rgb8, Rotation::R0).is_err()); // needs 108
        assert!(ImageView::new(&buf, 5, 5, 18, PixelFormat::Rgb8, Rotation::R0).is_ok()); // needs 4*18+15 = 87
    }

    #[test]
    fn last_row_may_be_short_but_not_shorter() {
        let buf = vec![0u8; 18 * 4 + 15];
        assert!(ImageView::new(&buf, 5, 5, 18, PixelFormat::Rgb8, Rotation::R0).is_ok());
        assert!(ImageView::new(&buf[..buf.len() - 1], 5, 5, 18, PixelFormat::Rgb8, Rotation::R0).is_err());
    }

    #[test]
    fn overflow_and_huge_sizes_are_errors() {
        let buf = vec![0u8; 16];
        assert!(ImageView::new(&buf, 10000, 10000, 30000, PixelFormat::Rgb8, Rotation::R0).is_err());
        assert!(ImageView::new(&buf, 4, 4, usize::MAX, PixelFormat::Rgb8, Rotation::R0).is_err());
        assert!(ImageView::new(&buf, 4, 4, usize::MAX / 2, PixelFormat::Nv21, Rotation::R0).is_err());
        assert!(ImageView::new(&buf, 4, 4, usize::MAX / 3, PixelFormat::I420, Rotation::R0).is_err());
    }

    #[test]
    fn rotations_map_pixels_upright() {
        let img = gradient(4, 3);
        // Rotate the upright image 90° counter-clockwise into a buffer; rotation R90 must undo it.
        let (w, h) = (3u32, 4u32);
        let mut buf = vec![0u8; (w * h * 3) as usize];
        for uy in 0..3usize {
            for ux in 0..4usize {
                let (x, y) = (uy, 3 - ux); // inverse of the R90 mapping
                let src = (uy * 4 + ux) * 3;
                buf[(y * 3 + x) * 3..(y * 3 + x) * 3 + 3].copy_from_slice(&img.pixels()[src..src + 3]);
            }
        }
        let v = ImageView::new(&buf, w, h, (w * 3) as usize, PixelFormat::Rgb8, Rotation::R90).unwrap();
        assert_eq!(v.to_image(), img);
        // 180°: the buffer is the upright image with its pixel order reversed.
        let rev: Vec<u8> = img.pixels().chunks_exact(3).rev().flatten().copied().collect();
        let v = ImageView::new(&rev, 4, 3, 12, PixelFormat::Rgb8, Rotation::R180).unwrap();
        assert_eq!(v.to_image(), img);
    }

    #[test]
    fn channel_orders_and_gray() {
        let px = [10u8, 20, 30, 255];
        let v = ImageView::packed(&px[..3], 1, 1, PixelFormat::Bgr8).unwrap().to_image();
        assert_eq!(v.pixels(), &[30, 20, 10]);
        let v = ImageView::packed(&px, 1, 1, PixelFormat::Bgra8).unwrap().to_image();
        assert_eq!(v.pixels(), &[30, 20, 10]);
        let v = ImageView::packed(&px[..1], 1, 1, PixelFormat::Gray8).unwrap().to_image();
        assert_eq!(v.pixels(), &[10, 10, 10]);
    }

    #[test]
    fn yuv_formats_decode_grey_and_colour() {
        // 2x2 frame, Y=100 everywhere, U=V=128 → grey 100.
        let nv = [100u8, 100, 100, 100, 128, 128];
        for f in [PixelFormat::Nv21, PixelFormat::Nv12] {
            let img = ImageView::new(&nv, 2, 2, 2, f, Rotation::R0).unwrap().to_image();
            assert!(img.pixels().iter().all(|&p| p == 100));
        }
        let i420 = [100u8, 100, 100, 100, 128, 128];
        let img = ImageView::new(&i420, 2, 2, 2, PixelFormat::I420, Rotation::R0).unwrap().to_image();
        assert!(img.pixels().iter().all(|&p| p == 100));
        // Strong V → red dominates; NV21 stores V first.
        let red = [128u8, 128, 128, 128, 255, 128];
        let p = ImageView::new(&red, 2, 2, 2, PixelFormat::Nv21, Rotation::R0).unwrap().to_image();
        assert!(p.pixels()[0] > 200 && p.pixels()[2] < 140);
        // Too short a chroma plane is an error.
        assert!(ImageView::new(&nv[..5], 2, 2, 2, PixelFormat::Nv21, Rotation::R0).is_err());
    }

    #[test]
    fn yuv_rows_equal_the_pixel_by_pixel_definition() {
        // Odd sizes (a chroma pair covering one column or row), stride beyond the width, every rotation and
        // every byte value: the row-at-a-time conversion (dispatched to this CPU's SIMD) must give exactly
        // the RGB of each pixel's own Y, U, V read by the plane layout of PixelFormat.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for (w, h, stride) in [(1usize, 1usize, 2usize), (7, 5, 9), (64, 3, 64), (33, 34, 40)] {
            let len = stride * h + stride.div_ceil(2) * h.div_ceil(2) * 2 + stride;
            let data: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed as u8
                })
                .collect();
            for format in [PixelFormat::Nv21, PixelFormat::Nv12, PixelFormat::I420] {
                let yuv = |x: usize, y: usize| {
                    let luma = data[y * stride + x];
                    let (u, v) = match format {
                        PixelFormat::I420 => {
                            let (cs, ch) = (stride.div_ceil(2), h.div_ceil(2));
                            let i = stride * h + (y / 2) * cs + x / 2;
                            (data[i], data[i + cs * ch])
                        }
                        _ => {
                            let c = stride * h + (y / 2) * stride + 2 * (x / 2);
                            if format == PixelFormat::Nv12 { (data[c], data[c + 1]) } else { (data[c + 1], data[c]) }
                        }
                    };
                    yuv_to_rgb(luma, u, v)
                };
                for rotation in [Rotation::R0, Rotation::R90, Rotation::R180, Rotation::R270] {
                    let view = ImageView::new(&data, w as u32, h as u32, stride, format, rotation).unwrap();
                    let img = view.to_image();
                    let (uw, uh) = view.upright_size();
                    assert_eq!((img.width(), img.height()), (uw, uh));
                    for (i, px) in img.pixels().chunks_exact(3).enumerate() {
                        let (ux, uy) = (i % uw as usize, i / uw as usize);
                        let (x, y) = match rotation {
                            Rotation::R0 => (ux, uy),
                            Rotation::R90 => (uy, h - 1 - ux),
                            Rotation::R180 => (w - 1 - ux, h - 1 - uy),
                            Rotation::R270 => (w - 1 - uy, ux),
                        };
                        assert_eq!(px, yuv(x, y), "{format:?} {w}x{h} {rotation:?} at upright ({ux}, {uy})");
                    }
                }
            }
        }
    }

    #[test]
    fn decode_rejects_garbage() {
        assert!(matches!(Image::decode(b"not an image"), Err(Error::Decode { .. })));
        assert!(matches!(Image::decode(&[]), Err(Error::Decode { .. })));
    }

    #[test]
    fn image_files_over_the_limit_are_refused_before_reading() {
        let path = std::env::temp_dir().join(format!("facekit-image-limit-{}.png", std::process::id()));
        std::fs::File::create(&path).unwrap().set_len(MAX_FILE_BYTES + 1).unwrap();
        let r = Image::open(&path);
        std::fs::remove_file(&path).unwrap();
        assert!(matches!(&r, Err(Error::InvalidImage(m)) if m.contains("limit")), "{r:?}");
        // An endless file (its metadata says 0 bytes): the read stops one byte past the limit.
        if Path::new("/dev/zero").exists() {
            let r = Image::open("/dev/zero");
            assert!(matches!(&r, Err(Error::InvalidImage(m)) if m.contains("limit")), "{r:?}");
        }
    }

    /// A PNG that announces `w`×`h` RGB pixels and holds none (an empty IDAT chunk).
    fn png_header(w: u32, h: u32) -> Vec<u8> {
        fn crc32(bytes: &[u8]) -> u32 {
            let mut c = !0u32;
            for &b in bytes {
                c ^= u32::from(b);
                for _ in 0..8 {
                    c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
                }
            }
            !c
        }
        let mut ihdr = b"IHDR".to_vec();
        ihdr.extend_from_slice(&w.to_be_bytes());
        ihdr.extend_from_slice(&h.to_be_bytes());
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png.extend_from_slice(&13u32.to_be_bytes());
        png.extend_from_slice(&ihdr);
        png.extend_from_slice(&crc32(&ihdr).to_be_bytes());
        for chunk in [b"IDAT", b"IEND"] {
            png.extend_from_slice(&0u32.to_be_bytes());
            png.extend_from_slice(chunk);
            png.extend_from_slice(&crc32(chunk).to_be_bytes());
        }
        png
    }

    #[test]
    fn decode_refuses_sizes_over_the_limits_from_the_header() {
        // 9000x9000 is within MAX_SIDE but over MAX_PIXELS; 20000x1 is over MAX_SIDE.
        for (w, h, what) in [(9000, 9000, "pixel"), (MAX_SIDE + 1, 1, "limit")] {
            let r = Image::decode(&png_header(w, h));
            assert!(matches!(&r, Err(Error::Decode { msg, .. }) if msg.contains(what)), "{w}x{h}: {r:?}");
        }
        // Within the limits the same header fails only for its missing data.
        assert!(matches!(Image::decode(&png_header(64, 64)), Err(Error::Decode { .. })));
    }

    #[test]
    fn resize_is_bit_exact_with_opencv() {
        // Expected bytes from cv2.resize (OpenCV 5.0.0, INTER_LINEAR) on pattern (37x + 91y + 53c) mod 256.
        let pattern = |w: u32, h: u32| {
            let px = (0..h).flat_map(|y| (0..w).flat_map(move |x| (0..3).map(move |c| ((37 * x + 91 * y + 53 * c) % 256) as u8)));
            Image::from_rgb(w, h, px.collect()).unwrap()
        };
        let down: [u8; 60] = [
            86, 139, 192, 182, 172, 128, 119, 76, 129, 119, 172, 129, 183, 108, 65, 67, 94, 141, 131, 184, 148, 228, 57, 110, 81,
            121, 174, 164, 172, 46, 208, 82, 90, 80, 133, 173, 144, 197, 26, 106, 69, 123, 113, 159, 187, 189, 145, 71, 125, 82,
            135, 125, 178, 135, 125, 178, 71, 61, 115, 167,
        ];
        assert_eq!(resize(&pattern(13, 9), 5, 4).unwrap().pixels(), &down);
        let up: [u8; 189] = [
            0, 53, 106, 12, 65, 118, 33, 86, 139, 53, 106, 159, 74, 127, 180, 95, 147, 200, 115, 168, 221, 136, 188, 242, 148, 201,
            254, 32, 85, 138, 45, 98, 151, 65, 118, 171, 86, 139, 151, 106, 159, 121, 127, 180, 141, 148, 190, 162, 168, 160, 183,
            180, 142, 195, 85, 137, 190, 97, 150, 203, 117, 170, 223, 138, 191, 138, 158, 211, 27, 179, 232, 47, 199, 226, 68, 220,
            115, 88, 232, 48, 101, 137, 190, 115, 149, 159, 127, 169, 108, 147, 133, 115, 111, 83, 136, 61, 103, 156, 81, 124, 162,
            102, 144, 112, 122, 157, 82, 135, 170, 223, 38, 182, 156, 51, 203, 45, 71, 118, 39, 92, 6, 59, 112, 27, 80, 133, 47,
            100, 151, 68, 121, 162, 80, 133, 168, 76, 129, 90, 88, 111, 103, 109, 80, 123, 89, 91, 144, 59, 111, 164, 79, 132, 185,
            99, 153, 187, 120, 173, 116, 132, 185, 74, 17, 70, 123, 29, 82, 135, 50, 103, 156, 70, 123, 176, 91, 144, 197, 111, 165,
            217, 132, 185, 209, 152, 206, 88, 165, 218, 15,
        ];
        assert_eq!(resize(&pattern(5, 4), 9, 7).unwrap().pixels(), &up);
    }


    #[test]
    fn crop_copies_the_rectangle_and_refuses_outside() {
        let img = gradient(4, 3);
        let c = img.crop(1, 1, 2, 2).unwrap();
        assert_eq!((c.width(), c.height()), (2, 2));
        assert_eq!(&c.pixels()[..3], &img.pixels()[(4 + 1) * 3..(4 + 1) * 3 + 3]);
        assert!(img.crop(3, 0, 2, 1).is_err());
        assert!(img.crop(0, 0, 0, 1).is_err());
        assert!(img.crop(u32::MAX, 0, 2, 1).is_err());
    }

    /// Android YUV_420_888 at pixel stride 1 (planar) and 2 (interleaved, two views into one V/U buffer), padded
    /// rows, and iOS bi-planar: the same pixels as the packed I420/NV21 path.
    #[test]
    fn planar_frames_equal_the_packed_path() {
        let (w, h) = (7u32, 5u32);
        let (cw, ch) = (4usize, 3usize);
        let ys: Vec<u8> = (0..w * h).map(|i| (i * 37 % 251) as u8).collect();
        let us: Vec<u8> = (0..cw * ch).map(|i| (60 + i * 13) as u8).collect();
        let vs: Vec<u8> = (0..cw * ch).map(|i| (200 - i * 11) as u8).collect();
        let mut i420 = ys.clone();
        i420.extend(&us);
        i420.extend(&vs);
        let packed = ImageView::new(&i420, w, h, w as usize, PixelFormat::I420, Rotation::R90).unwrap().to_image();
        // Planar, Y rows padded to 16, chroma rows padded to 8, last rows short.
        let pad = |p: &[u8], row: usize, stride: usize| -> Vec<u8> {
            let mut out = Vec::new();
            for (k, r) in p.chunks(row).enumerate() {
                out.extend_from_slice(r);
                if k + 1 < p.len() / row {
                    out.resize(out.len() + stride - row, 0xEE);
                }
            }
            out
        };
        let (y16, u8s, v8s) = (pad(&ys, w as usize, 16), pad(&us, cw, 8), pad(&vs, cw, 8));
        let v = ImageView::planar(&y16, 16, &u8s, &v8s, 8, 1, w, h, Rotation::R90).unwrap();
        assert_eq!(v.to_image(), packed);
        // Pixel stride 2: one V/U interleaved buffer (NV21 order), U = base + 1, V = base.
        let mut vu = Vec::new();
        for r in 0..ch {
            for c in 0..cw {
                vu.extend([vs[r * cw + c], us[r * cw + c]]);
            }
        }
        // Packed NV21 needs a stride of 8 for 4 V/U pairs a row: Y rows padded to 8 as well.
        let y8: Vec<u8> = ys.chunks(w as usize).flat_map(|r| r.iter().copied().chain([0xEE])).collect();
        let nv21: Vec<u8> = y8.iter().chain(&vu).copied().collect();
        let packed = ImageView::new(&nv21, w, h, 8, PixelFormat::Nv21, Rotation::R0).unwrap().to_image();
        let v = ImageView::planar(&ys, w as usize, &vu[1..], &vu[..vu.len() - 1], 2 * cw, 2, w, h, Rotation::R0).unwrap();
        assert_eq!(v.to_image(), packed);
        // Bad layouts are errors, not panics.
        assert!(ImageView::planar(&ys, w as usize, &vu[1..], &vu[..5], 2 * cw, 2, w, h, Rotation::R0).is_err());
        assert!(ImageView::planar(&ys, w as usize, &us, &vs, cw, 0, w, h, Rotation::R0).is_err());
        assert!(ImageView::planar(&ys, w as usize, &us, &vs, cw - 1, 1, w, h, Rotation::R0).is_err());
        assert!(ImageView::planar(&ys[..10], w as usize, &us, &vs, cw, 1, w, h, Rotation::R0).is_err());
        assert!(ImageView::planar(&ys, w as usize, &us, &vs, usize::MAX, 1, w, h, Rotation::R0).is_err());
        assert!(ImageView::new(&nv21, w, h, w as usize, PixelFormat::Yuv420, Rotation::R0).is_err());
    }
}
