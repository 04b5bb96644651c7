//! Quality gate on controlled degradations of real LFW faces: blur, darkening, down-and-up scaling, JPEG,
//! a black bar over the eyes or the mouth. For each kind the mean overall score falls with severity, and the
//! matching reason flag fires at the worst level for at least 90 % of faces. The face geometry is the one
//! detected on the clean photo, so only capture quality changes.

mod common;
use facekit::quality::reason;
use facekit::{Face, Image, QualityPolicy};

fn gaussian_blur(img: &Image, sigma: f32) -> Image {
    facekit::image::degrade::gaussian_blur(img, sigma)
}

fn darken(img: &Image, f: f32) -> Image {
    Image::from_rgb(img.width(), img.height(), img.pixels().iter().map(|&p| (p as f32 * f).round() as u8).collect()).unwrap()
}

fn down_up(img: &Image, k: u32) -> Image {
    upscale(&area_down(img, img.width() / k, img.height() / k), img.width(), img.height())
}

/// Bilinear upscale (what a phone's digital zoom does).
fn upscale(img: &Image, w: u32, h: u32) -> Image {
    let (sw, sh) = (img.width() as f32, img.height() as f32);
    let px = img.pixels();
    let at = |x: usize, y: usize, c: usize| px[(y * img.width() as usize + x) * 3 + c] as f32;
    let mut out = Vec::with_capacity((w * h * 3) as usize);
    for y in 0..h {
        for x in 0..w {
            let fx = ((x as f32 + 0.5) * sw / w as f32 - 0.5).clamp(0.0, sw - 1.0);
            let fy = ((y as f32 + 0.5) * sh / h as f32 - 0.5).clamp(0.0, sh - 1.0);
            let (x0, y0) = (fx as usize, fy as usize);
            let (x1, y1) = ((x0 + 1).min(sw as usize - 1), (y0 + 1).min(sh as usize - 1));
            let (ax, ay) = (fx - x0 as f32, fy - y0 as f32);
            for c in 0..3 {
                let top = at(x0, y0, c) + (at(x1, y0, c) - at(x0, y0, c)) * ax;
                let bot = at(x0, y1, c) + (at(x1, y1, c) - at(x0, y1, c)) * ax;
                out.push((top + (bot - top) * ay).round() as u8);
            }
        }
    }
    Image::from_rgb(w, h, out).unwrap()
}

/// Area-average downscale (a small sensor).
fn area_down(img: &Image, w: u32, h: u32) -> Image {
    let (sw, sh) = (img.width() as usize, img.height() as usize);
    let mut out = Vec::with_capacity((w * h * 3) as usize);
    for y in 0..h as usize {
        for x in 0..w as usize {
            let (x0, x1) = (x * sw / w as usize, ((x + 1) * sw / w as usize).max(x * sw / w as usize + 1));
            let (y0, y1) = (y * sh / h as usize, ((y + 1) * sh / h as usize).max(y * sh / h as usize + 1));
            for c in 0..3 {
                let (mut s, mut n) = (0u32, 0u32);
                for yy in y0..y1 {
                    for xx in x0..x1 {
                        s += img.pixels()[(yy * sw + xx) * 3 + c] as u32;
                        n += 1;
                    }
                }
                out.push((s / n) as u8);
            }
        }
    }
    Image::from_rgb(w, h, out).unwrap()
}

fn jpeg(img: &Image, q: u8) -> Image {
    let mut buf = Vec::new();
    let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut buf, q);
    image::ImageEncoder::write_image(enc, img.pixels(), img.width(), img.height(), image::ExtendedColorType::Rgb8).unwrap();
    Image::decode(&buf).unwrap()
}

/// A black bar over both eyes (`eyes`) or over the mouth.
fn bar(img: &Image, f: &Face, eyes: bool) -> Image {
    let l = &f.landmarks;
    let ed = f.eye_distance();
    let (cx, cy, hw) = if eyes {
        ((l[0][0] + l[1][0]) / 2.0, (l[0][1] + l[1][1]) / 2.0, 0.9 * ed)
    } else {
        ((l[3][0] + l[4][0]) / 2.0, (l[3][1] + l[4][1]) / 2.0, 0.75 * ed)
    };
    let hh = 0.3 * ed;
    let mut px = img.pixels().to_vec();
    let w = img.width() as i64;
    for y in ((cy - hh) as i64).max(0)..((cy + hh) as i64).min(img.height() as i64) {
        for x in ((cx - hw) as i64).max(0)..((cx + hw) as i64).min(w) {
            px[((y * w + x) * 3) as usize..((y * w + x) * 3 + 3) as usize].fill(0);
        }
    }
    Image::from_rgb(img.width(), img.height(), px).unwrap()
}

#[test]
fn degradations_lower_the_score_and_raise_the_right_flag() {
    let e = common::engine();
    let policy = QualityPolicy::unlock();
    // 200 faces: the first image of the first 200 LFW people (sorted), skipping photos without a face.
    let mut people: Vec<_> = std::fs::read_dir(common::data("lfw/images")).unwrap().flatten().map(|d| d.path()).collect();
    people.sort();
    let mut faces = Vec::new();
    for p in people {
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        let img = Image::open(common::lfw(&name, 1)).unwrap();
        if let Ok(f) = e.largest_face(&img) {
            faces.push((img, f));
        }
        if faces.len() == 200 {
            break;
        }
    }
    type Degrade = Box<dyn Fn(&Image, &Face) -> Image>;
    let kinds: Vec<(&str, u32, Vec<Degrade>)> = vec![
        ("blur σ 0,1,2,4", reason::BLURRY, [0.0, 1.0, 2.0, 4.0].into_iter().map(|s| Box::new(move |i: &Image, _: &Face| gaussian_blur(i, s)) as Degrade).collect()),
        ("brightness 100,50,25,10 %", reason::TOO_DARK, [1.0, 0.5, 0.25, 0.1].into_iter().map(|f| Box::new(move |i: &Image, _: &Face| darken(i, f)) as Degrade).collect()),
        ("downscale 1,2,4,8", reason::BLURRY, [1, 2, 4, 8].into_iter().map(|k| Box::new(move |i: &Image, _: &Face| down_up(i, k)) as Degrade).collect()),
        ("jpeg q 90,30,10", reason::COMPRESSED, [90u8, 30, 10].into_iter().map(|q| Box::new(move |i: &Image, _: &Face| jpeg(i, q)) as Degrade).collect()),
        ("bar over eyes", reason::OCCLUDED, vec![Box::new(|i: &Image, _: &Face| i.clone()) as Degrade, Box::new(|i: &Image, f: &Face| bar(i, f, true))]),
        ("bar over mouth", reason::OCCLUDED, vec![Box::new(|i: &Image, _: &Face| i.clone()) as Degrade, Box::new(|i: &Image, f: &Face| bar(i, f, false))]),
    ];
    let mut failures = Vec::new();
    for (name, flag, levels) in &kinds {
        let mut means = Vec::new();
        let mut flagged_worst = 0;
        for (li, degrade) in levels.iter().enumerate() {
            let mut sum = 0.0;
            for (img, f) in &faces {
                let r = e.quality_with(&degrade(img, f), f, &policy).unwrap();
                sum += r.overall as f64;
                if li == levels.len() - 1 && r.reasons & flag != 0 {
                    flagged_worst += 1;
                }
            }
            means.push(sum / faces.len() as f64);
        }
        let share = flagged_worst as f64 / faces.len() as f64;
        eprintln!("{name:28} mean overall per level {:?}; flag {:?} at the worst level for {:.1} %", means.iter().map(|m| (m * 10.0).round() / 10.0).collect::<Vec<_>>(), reason::names(*flag), 100.0 * share);
        if !means.windows(2).all(|w| w[1] < w[0]) {
            failures.push(format!("{name}: mean score not falling: {means:?}"));
        }
        if share < 0.9 {
            failures.push(format!("{name}: flag at worst level for only {:.1} %", 100.0 * share));
        }
    }
    assert_eq!(faces.len(), 200);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
