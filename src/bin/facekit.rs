//! `facekit` — the command line over the library: detect, verify, quality, eval, calibrate, bench, gallery.
//! Models are found as the library does: --models DIR, $FACEKIT_MODELS, ./models, ../shared/models.

use facekit::compare::OperatingPoint;
use facekit::eval::{self, Pair};
use facekit::gallery::Gallery;
use facekit::pack::{find_model_dir, Manifest, ModelPack};
use facekit::quality::{reason, QualityPolicy, QualityReport};
use facekit::{Engine, Error, Face, Image, Options};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

const USAGE: &str = "\
facekit — on-device face recognition

usage: facekit [global options] COMMAND ...

commands:
  detect IMAGE... [--json] [--draw OUT.png]      faces, scores, 5 landmarks
  verify IMAGE_A IMAGE_B [--json]                 largest face of each: same person?
  quality IMAGE... [--json] [--policy P]          quality report of the largest face (P: enrolment|unlock|gate)
  eval lfw ROOT [--pairs FILE] [--json] [--roc F.png] [--reject FRACTION] [--erc F.png] [--limit N]
  eval pairs LIST [same options]                  LIST lines: pathA<TAB>pathB<TAB>1|0[<TAB>fold]
  eval identify ROOT [--json]                     LFW 1:N: first image enrolled, the rest probes
  calibrate lfw ROOT | calibrate LIST  --out MANIFEST   measure operating-point thresholds
  bench [--image IMG] [--runs N] [--json]         median ms per stage, one thread
  bench gallery --size N [--dim 128] [--json]     1:N search speed on synthetic templates
  enroll GALLERY ID IMAGE... [--force]           add the largest face of each image under ID (enrolment quality gate)
  identify GALLERY IMAGE [--json]                 who is this?
  pack OUT.fkpack [--only NAME,NAME]              the model directory as one in-memory pack

global options:
  --models DIR        model directory (else $FACEKIT_MODELS, ./models, ../shared/models)
  --manifest FILE     use this manifest instead of the directory's / the built-in one
  --detector NAME     yunet_s (default) or yunet_n
  --embedder NAME     mobilefacenet (default) or dlib_resnet
  --quality-model NAME  lightqnet_dm050 (default, 2× faster) or lightqnet_dm100 (best error-versus-reject)
  --det-size N        detector input: longer side in pixels (default 320)
  --flip              flip test-time augmentation
  --op far_1e-2|far_1e-3|far_1e-4   operating point of decisions (default far_1e-3)
  --threads N         worker threads for eval/calibrate (default: all cores)
";

/// Parsed command line: positional words and `--flag [value]` options.
struct Args {
    pos: Vec<String>,
    opts: Vec<(String, Option<String>)>,
}

const SWITCHES: &[&str] = &["--json", "--flip", "--help", "-h", "--no-quality", "--force"];

impl Args {
    fn parse() -> Result<Self, Error> {
        let mut it = std::env::args().skip(1);
        let (mut pos, mut opts) = (Vec::new(), Vec::new());
        while let Some(a) = it.next() {
            if a.starts_with('-') && a.len() > 1 {
                if SWITCHES.contains(&a.as_str()) {
                    opts.push((a, None));
                } else {
                    let v = it.next().ok_or_else(|| Error::invalid(format!("{a} needs a value")))?;
                    opts.push((a, Some(v)));
                }
            } else {
                pos.push(a);
            }
        }
        Ok(Args { pos, opts })
    }
    fn flag(&self, name: &str) -> bool {
        self.opts.iter().any(|(k, _)| k == name)
    }
    fn get(&self, name: &str) -> Option<&str> {
        self.opts.iter().rev().find(|(k, _)| k == name).and_then(|(_, v)| v.as_deref())
    }
    fn num<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>, Error> {
        self.get(name)
            .map(|v| v.parse::<T>().map_err(|_| Error::invalid(format!("{name}: '{v}' is not a number"))))
            .transpose()
    }
}

fn main() -> ExitCode {
    let args = match Args::parse() {
        Ok(a) => a,
        Err(e) => return fail(e),
    };
    if args.flag("--help") || args.flag("-h") || args.pos.is_empty() {
        print!("{USAGE}");
        return if args.pos.is_empty() && !args.flag("--help") && !args.flag("-h") { ExitCode::from(2) } else { ExitCode::SUCCESS };
    }
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

fn fail(e: Error) -> ExitCode {
    eprintln!("facekit: {e}");
    ExitCode::from(match e {
        Error::NoFace(_) => 3,
        Error::InvalidArgument(_) => 2,
        _ => 1,
    })
}

fn options(args: &Args) -> Result<Options, Error> {
    let mut o = Options::default();
    o.detector = args.get("--detector").map(String::from);
    o.embedder = args.get("--embedder").map(String::from);
    o.quality_model = args.get("--quality-model").map(String::from);
    o.flip = args.flag("--flip");
    o.load_quality = !args.flag("--no-quality");
    if let Some(n) = args.num("--det-size")? {
        o.detect.input_size = n;
    }
    if let Some(op) = args.get("--op") {
        o.operating_point = OperatingPoint::parse(op).ok_or_else(|| Error::invalid(format!("unknown operating point '{op}'")))?;
    }
    if let Some(p) = args.get("--policy") {
        o.quality = QualityPolicy::preset(p).ok_or_else(|| Error::invalid(format!("unknown policy '{p}'")))?;
    }
    Ok(o)
}

fn pack(args: &Args) -> Result<ModelPack, Error> {
    let dir = find_model_dir(args.get("--models").map(Path::new))?;
    match args.get("--manifest") {
        Some(m) => {
            let text = std::fs::read_to_string(m).map_err(|e| Error::Io { path: m.into(), source: e })?;
            ModelPack::from_dir_with_manifest(dir, Manifest::parse(&text)?)
        }
        None => ModelPack::from_dir(dir),
    }
}

fn engine(args: &Args) -> Result<Engine, Error> {
    let t = Instant::now();
    let e = Engine::from_pack(&pack(args)?, options(args)?)?;
    if std::env::var_os("FACEKIT_VERBOSE").is_some() {
        eprintln!("models loaded from {} in {:.0} ms", e.origin(), t.elapsed().as_secs_f64() * 1e3);
    }
    Ok(e)
}

fn threads(args: &Args) -> Result<usize, Error> {
    Ok(args.num("--threads")?.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())))
}

fn run(args: &Args) -> Result<(), Error> {
    let p: Vec<&str> = args.pos.iter().map(String::as_str).collect();
    match p.as_slice() {
        ["detect", images @ ..] if !images.is_empty() => detect(args, images),
        ["verify", a, b] => verify(args, a, b),
        ["quality", images @ ..] if !images.is_empty() => quality(args, images),
        ["eval", "lfw", root] => {
            let pairs = eval::lfw_pairs(Path::new(root), args.get("--pairs").map(Path::new))?;
            evaluate(args, pairs)
        }
        ["eval", "pairs", list] => evaluate(args, eval::list_pairs(Path::new(list))?),
        ["calibrate", "lfw", root] => calibrate(args, eval::lfw_pairs(Path::new(root), args.get("--pairs").map(Path::new))?, &format!("LFW {root}")),
        ["calibrate", list] => calibrate(args, eval::list_pairs(Path::new(list))?, list),
        ["bench"] => bench(args),
        ["bench", "gallery"] => bench_gallery(args),
        ["enroll", gallery, id, images @ ..] if !images.is_empty() => enroll(args, gallery, id, images),
        ["identify", gallery, image] => identify(args, gallery, image),
        ["eval", "identify", root] => eval_identify(args, Path::new(root)),
        ["pack", out] => {
            let dir = find_model_dir(args.get("--models").map(Path::new))?;
            let only: Option<Vec<&str>> = args.get("--only").map(|s| s.split(',').collect());
            let bytes = ModelPack::pack_dir(&dir, only.as_deref())?;
            std::fs::write(out, &bytes).map_err(|e| Error::Io { path: out.into(), source: e })?;
            println!("wrote {out}: {} bytes", bytes.len());
            Ok(())
        }
        _ => Err(Error::invalid(format!("unknown command '{}'; see facekit --help", args.pos.join(" ")))),
    }
}

fn face_json(f: &Face) -> Value {
    json!({
        "box": [f.x, f.y, f.width, f.height],
        "score": f.score,
        "landmarks": f.landmarks,
    })
}

fn detect(args: &Args, images: &[&str]) -> Result<(), Error> {
    let e = engine(args)?;
    let mut out = Vec::new();
    for path in images {
        let img = Image::open(path)?;
        let faces = e.detect(&img)?;
        if let Some(d) = args.get("--draw") {
            let target = if images.len() > 1 {
                let p = Path::new(d);
                let stem = Path::new(path).file_stem().and_then(|s| s.to_str()).unwrap_or("image");
                p.with_file_name(format!("{}-{stem}.png", p.file_stem().and_then(|s| s.to_str()).unwrap_or("draw")))
            } else {
                PathBuf::from(d)
            };
            draw_faces(&img, &faces).save(&target)?;
        }
        if args.flag("--json") {
            out.push(json!({"image": path, "width": img.width(), "height": img.height(), "faces": faces.iter().map(face_json).collect::<Vec<_>>()}));
        } else {
            println!("{path}: {} face(s)", faces.len());
            for f in &faces {
                println!(
                    "  box {:.0},{:.0} {:.0}x{:.0}  score {:.3}  eyes ({:.0},{:.0}) ({:.0},{:.0})",
                    f.x, f.y, f.width, f.height, f.score, f.landmarks[0][0], f.landmarks[0][1], f.landmarks[1][0], f.landmarks[1][1]
                );
            }
        }
    }
    if args.flag("--json") {
        println!("{}", Value::Array(out));
    }
    Ok(())
}

/// The image with boxes (green) and landmarks (red) drawn on it.
fn draw_faces(img: &Image, faces: &[Face]) -> Image {
    let (w, h) = (img.width() as i64, img.height() as i64);
    let mut px = img.pixels().to_vec();
    let mut put = |x: i64, y: i64, c: [u8; 3]| {
        if x >= 0 && y >= 0 && x < w && y < h {
            let i = ((y * w + x) * 3) as usize;
            px[i..i + 3].copy_from_slice(&c);
        }
    };
    for f in faces {
        let (x0, y0, x1, y1) = (f.x as i64, f.y as i64, (f.x + f.width) as i64, (f.y + f.height) as i64);
        for t in 0..2 {
            for x in x0..=x1 {
                put(x, y0 + t, [0, 255, 0]);
                put(x, y1 - t, [0, 255, 0]);
            }
            for y in y0..=y1 {
                put(x0 + t, y, [0, 255, 0]);
                put(x1 - t, y, [0, 255, 0]);
            }
        }
        for l in f.landmarks {
            for dy in -2..=2 {
                for dx in -2..=2 {
                    put(l[0] as i64 + dx, l[1] as i64 + dy, [255, 0, 0]);
                }
            }
        }
    }
    Image::from_rgb(img.width(), img.height(), px).expect("same size")
}

fn verify(args: &Args, a: &str, b: &str) -> Result<(), Error> {
    // Verification needs no quality model: skip loading it (faster start, less memory).
    let mut o = options(args)?;
    o.load_quality = false;
    let e = Engine::from_pack(&pack(args)?, o)?;
    let m = e.verify(&Image::open(a)?, &Image::open(b)?)?;
    let cal = e.calibration().map(|c| c.dataset.clone()).unwrap_or_default();
    if args.flag("--json") {
        println!(
            "{}",
            json!({
                "similarity": m.similarity, "match": m.is_match, "threshold": m.threshold,
                "operating_point": m.operating_point.key(), "false_accept_rate": m.operating_point.far(),
                "calibrated_on": cal,
            })
        );
    } else {
        println!(
            "{}: similarity {:.4} {} threshold {:.4} (operating point {}: at most {} of different-person pairs score this high; measured on {})",
            if m.is_match { "MATCH" } else { "NO MATCH" },
            m.similarity,
            if m.is_match { ">=" } else { "<" },
            m.threshold,
            m.operating_point.key(),
            m.operating_point.far(),
            cal
        );
    }
    Ok(())
}

fn report_json(r: &QualityReport) -> Value {
    let c = |c: &facekit::quality::Component| if c.assessed { json!({"raw": c.raw, "score": c.score}) } else { json!({"assessed": false}) };
    json!({
        "overall": r.overall, "acceptable": r.acceptable, "reasons": reason::names(r.reasons), "reason_bits": r.reasons,
        "components": {
            "sharpness": c(&r.sharpness), "brightness": c(&r.brightness), "exposure": c(&r.exposure),
            "contrast": c(&r.contrast), "yaw": c(&r.yaw), "pitch": c(&r.pitch), "roll": c(&r.roll),
            "face_size": c(&r.face_size), "confidence": c(&r.confidence), "learned": c(&r.learned),
            "occlusion": c(&r.occlusion), "compression": c(&r.compression),
        }
    })
}

fn quality(args: &Args, images: &[&str]) -> Result<(), Error> {
    let e = engine(args)?;
    let mut out = Vec::new();
    for path in images {
        let img = Image::open(path)?;
        let face = e.largest_face(&img).map_err(|_| Error::NoFace(format!(" in {path}")))?;
        let r = e.quality(&img, &face)?;
        if args.flag("--json") {
            let mut v = report_json(&r);
            v["image"] = json!(path);
            out.push(v);
        } else {
            println!(
                "{path}: overall {:.0}/100 {} {:?}  (sharpness {:.0}, brightness {:.0}, yaw {:.0}°, pitch {:.0}°, roll {:.0}°, eyes {:.0}px, learned {:.3})",
                r.overall,
                if r.acceptable { "OK" } else { "REFUSED" },
                reason::names(r.reasons),
                r.sharpness.raw,
                r.brightness.raw,
                r.yaw.raw,
                r.pitch.raw,
                r.roll.raw,
                r.face_size.raw,
                r.learned.raw
            );
        }
    }
    if args.flag("--json") {
        println!("{}", Value::Array(out));
    }
    Ok(())
}

fn limit(args: &Args, pairs: Vec<Pair>) -> Result<Vec<Pair>, Error> {
    Ok(match args.num::<usize>("--limit")? {
        Some(n) if n > 0 && n < pairs.len() => {
            let step = pairs.len() / n;
            pairs.into_iter().step_by(step).take(n).collect()
        }
        _ => pairs,
    })
}

fn evaluate(args: &Args, pairs: Vec<Pair>) -> Result<(), Error> {
    let pairs = limit(args, pairs)?;
    let reject: Option<f64> = args.num("--reject")?;
    let want_quality = reject.is_some() || args.get("--erc").is_some();
    let e = engine(args)?;
    let (mut r, scored) = eval::evaluate(&e, &pairs, threads(args)?, want_quality, true)?;
    if want_quality {
        r.reject = Some(eval::reject_report(&scored, reject.unwrap_or(0.1)));
    }
    if let Some(f) = args.get("--roc") {
        let (g, i): (Vec<f32>, Vec<f32>) = (
            scored.sims.iter().zip(&scored.same).filter(|x| *x.1).map(|x| *x.0).collect(),
            scored.sims.iter().zip(&scored.same).filter(|x| !*x.1).map(|x| *x.0).collect(),
        );
        let pts: Vec<(f64, f64)> = facekit::compare::roc(&g, &i).into_iter().map(|(far, tar)| ((far.log10() + 4.0) / 4.0, tar)).collect();
        plot(&pts, (0.9, 1.0)).save(f)?;
    }
    if let (Some(f), Some(rj)) = (args.get("--erc"), &r.reject) {
        let max = rj.erc.iter().map(|p| p.1).fold(0.0, f64::max).max(1e-9);
        let pts: Vec<(f64, f64)> = rj.erc.iter().map(|&(x, y)| (x / 0.3, y / max)).collect();
        plot(&pts, (0.0, 1.0)).save(f)?;
    }
    if args.flag("--json") {
        println!("{}", serde_json::to_string(&r).expect("report serialises"));
    } else {
        println!(
            "pairs {}  images {}  no-face {}  accuracy {:.2}% ± {:.2}  TAR@FAR1e-2 {:.2}%  TAR@FAR1e-3 {:.2}%  EER {:.2}%  ({:.0} s)",
            r.pairs, r.images, r.failures, r.accuracy, r.accuracy_std, r.tar_at_far_1e2, r.tar_at_far_1e3, r.eer, r.seconds
        );
        if let Some(rj) = &r.reject {
            println!(
                "reject {:.0}% ({} pairs): FNMR@FMR1e-3 {:.2}% -> {:.2}%, FNMR@FMR1e-2 {:.2}% -> {:.2}%",
                100.0 * rj.fraction, rj.rejected, rj.fnmr_1e3_before, rj.fnmr_1e3_after, rj.fnmr_1e2_before, rj.fnmr_1e2_after
            );
        }
    }
    Ok(())
}

/// A bare line plot: points in [0,1]² (x right, y up; `yr` = the y range shown), grid every tenth.
fn plot(pts: &[(f64, f64)], yr: (f64, f64)) -> Image {
    let (w, h, m) = (640i64, 480i64, 40i64);
    let mut px = vec![255u8; (w * h * 3) as usize];
    let mut put = |x: i64, y: i64, c: [u8; 3]| {
        if x >= 0 && y >= 0 && x < w && y < h {
            let i = ((y * w + x) * 3) as usize;
            px[i..i + 3].copy_from_slice(&c);
        }
    };
    let to = |x: f64, y: f64| {
        let y = ((y - yr.0) / (yr.1 - yr.0)).clamp(0.0, 1.0);
        (m + (x.clamp(0.0, 1.0) * (w - 2 * m) as f64) as i64, h - m - (y * (h - 2 * m) as f64) as i64)
    };
    for k in 0..=10 {
        let f = k as f64 / 10.0;
        let (gx, _) = to(f, yr.0);
        let (_, gy) = to(0.0, yr.0 + f * (yr.1 - yr.0));
        for t in m..=h - m {
            put(gx, t, [220, 220, 220]);
        }
        for t in m..=w - m {
            put(t, gy, [220, 220, 220]);
        }
    }
    for win in pts.windows(2) {
        let (a, b) = (to(win[0].0, win[0].1), to(win[1].0, win[1].1));
        let n = (b.0 - a.0).abs().max((b.1 - a.1).abs()).max(1);
        for s in 0..=n {
            let (x, y) = (a.0 + (b.0 - a.0) * s / n, a.1 + (b.1 - a.1) * s / n);
            put(x, y, [200, 0, 0]);
            put(x, y + 1, [200, 0, 0]);
        }
    }
    Image::from_rgb(w as u32, h as u32, px).expect("plot size")
}

fn calibrate(args: &Args, pairs: Vec<Pair>, dataset: &str) -> Result<(), Error> {
    let out = args.get("--out").ok_or_else(|| Error::invalid("calibrate needs --out MANIFEST"))?;
    let pairs = limit(args, pairs)?;
    let pk = pack(args)?;
    let e = Engine::from_pack(&pk, options(args)?)?;
    let cal = eval::calibrate(&e, &pairs, dataset, threads(args)?, true)?;
    let mut manifest = pk.manifest.clone();
    let spec = manifest.model_mut(&e.embedder().spec().name)?;
    spec.calibrations.retain(|c| c.flip != cal.flip);
    spec.calibrations.push(cal.clone());
    spec.calibrations.sort_by_key(|c| c.flip);
    std::fs::write(out, manifest.to_json()).map_err(|err| Error::Io { path: out.into(), source: err })?;
    println!("{}", serde_json::to_string_pretty(&cal).expect("serialises"));
    eprintln!("wrote {out}");
    Ok(())
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn bench(args: &Args) -> Result<(), Error> {
    let path = match args.get("--image") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from("../shared/data/faces/face_recognition/examples/obama.jpg"),
    };
    let runs: usize = args.num("--runs")?.unwrap_or(20).max(1);
    let t = Instant::now();
    let e = engine(args)?;
    let load_ms = t.elapsed().as_secs_f64() * 1e3;
    let bytes = std::fs::read(&path).map_err(|err| Error::Io { path: path.clone(), source: err })?;
    let (mut dec, mut det, mut ali, mut emb, mut qual, mut tot) = (vec![], vec![], vec![], vec![], vec![], vec![]);
    let mut learned = vec![];
    let ms = |t: Instant| t.elapsed().as_secs_f64() * 1e3;
    for i in 0..runs + 2 {
        let t0 = Instant::now();
        let img = Image::decode(&bytes)?;
        let t1 = Instant::now();
        let face = e.largest_face(&img)?;
        let t2 = Instant::now();
        let crop = e.align(&img, &face)?;
        let t3 = Instant::now();
        e.embed_aligned(&crop)?;
        let t4 = Instant::now();
        e.quality(&img, &face)?;
        let t5 = Instant::now();
        // The learned part alone (LightQNet's alignment + inference), comparable with onnxruntime's.
        if let Some(q) = e.quality_model() {
            q.score(&img, &face)?;
        }
        if i >= 2 {
            learned.push(ms(t5));
            // the first two runs warm caches and plans
            dec.push((t1 - t0).as_secs_f64() * 1e3);
            det.push((t2 - t1).as_secs_f64() * 1e3);
            ali.push((t3 - t2).as_secs_f64() * 1e3);
            emb.push((t4 - t3).as_secs_f64() * 1e3);
            qual.push((t5 - t4).as_secs_f64() * 1e3);
            tot.push((t4 - t0).as_secs_f64() * 1e3);
        }
    }
    let img = Image::decode(&bytes)?;
    let v = json!({
        "image": path, "width": img.width(), "height": img.height(), "runs": runs,
        "detector": e.detector_name(), "detector_input": e.options().detect.input_size, "flip": e.options().flip,
        "model_load_ms": load_ms,
        "decode_ms": median(&mut dec), "detect_ms": median(&mut det), "align_ms": median(&mut ali),
        "embed_ms": median(&mut emb), "quality_ms": median(&mut qual), "total_ms": median(&mut tot),
        "quality_model": e.quality_model().map(|q| q.name()), "learned_quality_ms": if learned.is_empty() { None } else { Some(median(&mut learned)) },
    });
    if args.flag("--json") {
        println!("{v}");
    } else {
        println!("{}", serde_json::to_string_pretty(&v).expect("serialises"));
    }
    Ok(())
}

fn open_gallery(e: &Engine, path: &str) -> Result<Gallery, Error> {
    if Path::new(path).exists() {
        Gallery::load(path, e.model_id(), e.dim())
    } else {
        Gallery::new(e.model_id(), e.dim())
    }
}

/// Enrolment refuses poor captures (enrolment policy) unless --force: a bad template hurts every later match.
fn enroll(args: &Args, gallery: &str, id: &str, images: &[&str]) -> Result<(), Error> {
    let e = engine(args)?;
    let g = open_gallery(&e, gallery)?;
    let policy = QualityPolicy::enrolment();
    let mut added = 0;
    for path in images {
        let img = Image::open(path)?;
        let face = e.largest_face(&img).map_err(|_| Error::NoFace(format!(" in {path}")))?;
        let q = e.quality_with(&img, &face, &policy)?;
        if !q.acceptable && !args.flag("--force") {
            eprintln!("skipped {path}: quality {:.0}/100, {:?} (use --force to enroll anyway)", q.overall, reason::names(q.reasons));
            continue;
        }
        g.enroll(id, &[e.embed(&img, &face)?.as_slice()])?;
        added += 1;
    }
    g.save(gallery)?;
    println!("{id}: {added} template(s) added; gallery {gallery} holds {} identities", g.count());
    Ok(())
}

fn identify(args: &Args, gallery: &str, image: &str) -> Result<(), Error> {
    let e = engine(args)?;
    let g = Gallery::load(gallery, e.model_id(), e.dim())?;
    let img = Image::open(image)?;
    let emb = e.embed(&img, &e.largest_face(&img)?)?;
    let op = e.options().operating_point;
    let threshold = e.threshold(op)?;
    let hits = g.search(emb.as_slice(), 5, Some(threshold))?;
    if args.flag("--json") {
        let h: Vec<Value> = hits.iter().map(|h| json!({"id": h.id, "similarity": h.similarity})).collect();
        println!("{}", json!({"identity": hits.first().map(|h| h.id.clone()), "hits": h, "threshold": threshold, "operating_point": op.key()}));
    } else if let Some(best) = hits.first() {
        println!("{} (similarity {:.4}, threshold {:.4} at {})", best.id, best.similarity, threshold, op.key());
        for h in &hits[1..] {
            println!("  also above threshold: {} ({:.4})", h.id, h.similarity);
        }
    } else {
        println!("nobody enrolled (no identity reaches the threshold {threshold:.4} at {})", op.key());
    }
    Ok(())
}

fn bench_gallery(args: &Args) -> Result<(), Error> {
    let size: usize = args.num("--size")?.unwrap_or(100_000);
    let dim: usize = args.num("--dim")?.unwrap_or(128);
    let queries: usize = args.num("--queries")?.unwrap_or(200);
    if size == 0 || !(1..=4096).contains(&dim) {
        return Err(Error::invalid("--size must be > 0 and --dim in 1..=4096"));
    }
    let r = facekit::gallery::bench::bench(size, dim, queries, 42);
    let v = json!({
        "size": r.size, "dim": r.dim, "queries": queries,
        "ms_per_search_f32": r.ms_per_search_f32, "ms_per_search_int8": r.ms_per_search_int8,
        "recall_at_1_int8_vs_f32": r.recall_at_1_int8_vs_f32, "build_seconds": r.build_seconds,
    });
    println!("{}", if args.flag("--json") { v.to_string() } else { serde_json::to_string_pretty(&v).expect("json") });
    Ok(())
}

/// LFW 1:N: each person's first image (sorted) enrolled, every further image of people with 2+ images a probe.
fn eval_identify(args: &Args, root: &Path) -> Result<(), Error> {
    let t0 = Instant::now();
    let dir = root.join("images");
    let mut people: Vec<(String, Vec<PathBuf>)> = Vec::new();
    let rd = std::fs::read_dir(&dir).map_err(|e| Error::Io { path: dir.clone(), source: e })?;
    for entry in rd.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let mut imgs: Vec<PathBuf> = std::fs::read_dir(entry.path()).map_err(|e| Error::Io { path: entry.path(), source: e })?.flatten().map(|f| f.path()).collect();
        imgs.sort();
        if !imgs.is_empty() {
            people.push((name, imgs));
        }
    }
    people.sort();
    if let Some(n) = args.num::<usize>("--limit")? {
        people.truncate(n);
    }
    let e = engine(args)?;
    let all: Vec<PathBuf> = people.iter().flat_map(|(_, v)| v.iter().cloned()).collect();
    let samples = eval::embed_all(&e, &all, threads(args)?, false, true)?;
    let g = Gallery::new(e.model_id(), e.dim())?;
    for (name, imgs) in &people {
        g.enroll(name, &[samples[&imgs[0]].embedding.as_slice()])?;
    }
    let (mut probes, mut r1, mut r5, mut failures) = (0usize, 0usize, 0usize, 0usize);
    for (name, imgs) in &people {
        for p in &imgs[1..] {
            let s = &samples[p];
            failures += usize::from(!s.detected);
            let hits = g.search(s.embedding.as_slice(), 5, None)?;
            probes += 1;
            r1 += usize::from(hits.first().is_some_and(|h| &h.id == name));
            r5 += usize::from(hits.iter().any(|h| &h.id == name));
        }
    }
    let v = json!({
        "gallery": g.count(), "probes": probes, "failures": failures,
        "rank1": 100.0 * r1 as f64 / probes.max(1) as f64, "rank5": 100.0 * r5 as f64 / probes.max(1) as f64,
        "seconds": t0.elapsed().as_secs_f64(), "embedder": e.embedder().spec().name, "flip": e.options().flip,
    });
    println!("{}", if args.flag("--json") { v.to_string() } else { serde_json::to_string_pretty(&v).expect("json") });
    Ok(())
}
