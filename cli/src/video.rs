//! Frame sources for `track` and `bench track`: a video file decoded by an `ffmpeg` subprocess (Debian's
//! `ffmpeg` package), a folder of image files, or raw frames on stdin.

use clap::ValueEnum;
use facekit::{Error, Image, ImageView, PixelFormat, Rotation};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};

/// Pixel layout of raw frames on stdin.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RawFormat {
    Nv21,
    I420,
    Rgb,
}

impl RawFormat {
    fn pixel_format(self) -> PixelFormat {
        match self {
            RawFormat::Nv21 => PixelFormat::Nv21,
            RawFormat::I420 => PixelFormat::I420,
            RawFormat::Rgb => PixelFormat::Rgb8,
        }
    }
}

/// `WIDTHxHEIGHT`, e.g. `640x480`.
pub fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s.split_once(['x', 'X']).ok_or_else(|| format!("'{s}' is not WIDTHxHEIGHT"))?;
    match (w.parse::<u32>(), h.parse::<u32>()) {
        (Ok(w), Ok(h)) if w > 0 && h > 0 => Ok((w, h)),
        _ => Err(format!("'{s}' is not WIDTHxHEIGHT with positive whole numbers")),
    }
}

/// Where frames come from.
pub enum Frames {
    Ffmpeg { child: Child, out: ChildStdout, width: u32, height: u32, path: PathBuf, count: u64 },
    Folder(std::vec::IntoIter<PathBuf>),
    Raw { input: Box<dyn Read>, width: u32, height: u32, format: RawFormat },
}

fn ffmpeg_missing(e: std::io::Error, tool: &str) -> Error {
    if e.kind() == std::io::ErrorKind::NotFound {
        Error::Unsupported(format!("{tool} is not installed (Debian: apt-get install ffmpeg); it decodes video files"))
    } else {
        Error::Io { path: tool.into(), source: e }
    }
}

impl Frames {
    /// `input`: `-` (raw frames on stdin; needs `raw`), a folder (its image files in name order), or a video.
    pub fn open(input: &Path, raw: Option<((u32, u32), RawFormat)>) -> Result<Frames, Error> {
        if input == Path::new("-") {
            let ((width, height), format) =
                raw.ok_or_else(|| Error::invalid("frames on stdin need --raw WIDTHxHEIGHT (and --format)"))?;
            return Ok(Frames::Raw { input: Box::new(std::io::stdin().lock()), width, height, format });
        }
        if raw.is_some() {
            return Err(Error::invalid("--raw is for frames on stdin: give '-' as the input"));
        }
        if input.is_dir() {
            let rd = std::fs::read_dir(input).map_err(|e| Error::Io { path: input.into(), source: e })?;
            let mut files: Vec<PathBuf> = rd
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                        ["jpg", "jpeg", "png", "webp"].contains(&e.to_ascii_lowercase().as_str())
                    })
                })
                .collect();
            if files.is_empty() {
                return Err(Error::Io { path: input.into(), source: std::io::Error::other("the folder holds no .jpg/.png/.webp frames") });
            }
            files.sort();
            return Ok(Frames::Folder(files.into_iter()));
        }
        if !input.is_file() {
            return Err(Error::Io { path: input.into(), source: std::io::Error::from(std::io::ErrorKind::NotFound) });
        }
        let (width, height) = probe(input)?;
        let mut child = Command::new("ffmpeg")
            .args(["-v", "error", "-nostdin", "-i"])
            .arg(input)
            // passthrough: every decoded frame once (the default constant-rate output repeats frames to fill gaps).
            .args(["-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| ffmpeg_missing(e, "ffmpeg"))?;
        let out = child.stdout.take().expect("stdout was piped");
        Ok(Frames::Ffmpeg { child, out, width, height, path: input.into(), count: 0 })
    }

    /// The next frame, `None` at the end of the stream.
    pub fn next_frame(&mut self) -> Result<Option<Image>, Error> {
        match self {
            Frames::Folder(it) => it.next().map(Image::open).transpose(),
            Frames::Raw { input, width, height, format } => {
                let f = format.pixel_format();
                let len = ImageView::required_len(*width, *height, (*width as usize) * f.bytes_per_pixel(), f)?;
                let Some(buf) = read_frame(input.as_mut(), len, "stdin")? else { return Ok(None) };
                let stride = (*width as usize) * f.bytes_per_pixel();
                Ok(Some(ImageView::new(&buf, *width, *height, stride, f, Rotation::R0)?.to_image()))
            }
            Frames::Ffmpeg { child, out, width, height, path, count } => {
                let len = *width as usize * *height as usize * 3;
                match read_frame(out, len, &path.display().to_string())? {
                    Some(buf) => {
                        *count += 1;
                        Ok(Some(Image::from_rgb(*width, *height, buf)?))
                    }
                    None => {
                        let status = child.wait().map_err(|e| Error::Io { path: path.clone(), source: e })?;
                        let mut err = String::new();
                        if let Some(mut e) = child.stderr.take() {
                            let _ = e.read_to_string(&mut err);
                        }
                        if !status.success() && *count == 0 {
                            return Err(Error::Decode { path: path.display().to_string(), msg: format!("ffmpeg: {}", err.trim()) });
                        }
                        if !err.trim().is_empty() {
                            eprintln!("warning: ffmpeg on {} ({} frames decoded): {}", path.display(), count, err.trim());
                        }
                        Ok(None)
                    }
                }
            }
        }
    }
}

impl Drop for Frames {
    fn drop(&mut self) {
        if let Frames::Ffmpeg { child, .. } = self {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Reads exactly `len` bytes: `None` at a clean end of stream; a partial frame at the end is reported and
/// dropped (a truncated file or pipe).
fn read_frame(r: &mut dyn Read, len: usize, what: &str) -> Result<Option<Vec<u8>>, Error> {
    let mut buf = vec![0u8; len];
    let mut got = 0;
    while got < len {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::Io { path: what.into(), source: e }),
        }
    }
    match got {
        0 => Ok(None),
        n if n == len => Ok(Some(buf)),
        n => {
            eprintln!("warning: {what} ended inside a frame ({n} of {len} bytes): that partial frame is dropped");
            Ok(None)
        }
    }
}

/// Width and height of a video's first stream (ffprobe).
fn probe(path: &Path) -> Result<(u32, u32), Error> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height", "-of", "csv=p=0:s=x"])
        .arg(path)
        .output()
        .map_err(|e| ffmpeg_missing(e, "ffprobe"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().next().unwrap_or("").trim().trim_end_matches('x');
    parse_size(line).map_err(|_| Error::Decode {
        path: path.display().to_string(),
        msg: format!("not a video ffmpeg can read: {}", String::from_utf8_lossy(&out.stderr).trim()),
    })
}

/// Every frame of `input` (at most `max`), decoded up front: benchmarks time the pipeline, not the decoder.
pub fn decode_all(input: &Path, max: Option<usize>) -> Result<Vec<Image>, Error> {
    let mut frames = Frames::open(input, None)?;
    let mut out = Vec::new();
    while max.is_none_or(|m| out.len() < m) {
        match frames.next_frame()? {
            Some(f) => out.push(f),
            None => break,
        }
    }
    if out.is_empty() {
        return Err(Error::Decode { path: input.display().to_string(), msg: "no frames".into() });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_parse_strictly() {
        assert_eq!(super::parse_size("640x480"), Ok((640, 480)));
        assert!(super::parse_size("640").is_err());
        assert!(super::parse_size("0x480").is_err());
        assert!(super::parse_size("axb").is_err());
    }
}
