//! Plots as SVG: axis labels, tick values and a legend, readable without BENCHMARKS.md beside them and without
//! a font file (the viewer renders the text).

use facekit::Error;
use std::fmt::Write;
use std::path::Path;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scale {
    Linear,
    /// Base-10 logarithmic; values ≤ 0 are not drawn.
    Log,
}

#[derive(Clone, Debug)]
pub struct Axis {
    pub label: String,
    pub scale: Scale,
    pub min: f64,
    pub max: f64,
}

impl Axis {
    pub fn new(label: &str, scale: Scale, min: f64, max: f64) -> Self {
        Axis { label: label.into(), scale, min, max }
    }
    /// Position in [0, 1] along the axis (clamped), or None for a value a log axis cannot show.
    fn pos(&self, v: f64) -> Option<f64> {
        let (v, lo, hi) = match self.scale {
            Scale::Linear => (v, self.min, self.max),
            Scale::Log if v > 0.0 => (v.log10(), self.min.log10(), self.max.log10()),
            Scale::Log => return None,
        };
        v.is_finite().then(|| ((v - lo) / (hi - lo)).clamp(0.0, 1.0))
    }
    /// Tick values and their labels: decades on a log axis, 1-2-5 steps on a linear one.
    fn ticks(&self) -> Vec<(f64, String)> {
        match self.scale {
            Scale::Log => {
                let (a, b) = (self.min.log10().ceil() as i32, self.max.log10().floor() as i32);
                // Whole numbers as such (1, 10, 100: percent axes), fractions as powers (1e-3: rate axes).
                (a..=b).map(|k| (10f64.powi(k), if k >= 0 { format!("{}", 10u64.pow(k as u32)) } else { format!("1e{k}") })).collect()
            }
            Scale::Linear => {
                let span = self.max - self.min;
                let raw = span / 8.0;
                let mag = 10f64.powf(raw.log10().floor());
                let step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * mag).find(|s| *s >= raw).unwrap_or(mag * 10.0);
                let decimals = (-(step.log10().floor()) as i32).max(0) as usize;
                let first = (self.min / step).ceil() as i64;
                let last = (self.max / step).floor() as i64;
                (first..=last).map(|i| (i as f64 * step, format!("{:.*}", decimals, i as f64 * step))).collect()
            }
        }
    }
}

pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    /// Drawn as separate marked points (e.g. operating points) instead of a line.
    pub markers: bool,
}

pub struct Plot {
    pub title: String,
    pub x: Axis,
    pub y: Axis,
    pub series: Vec<Series>,
}

const W: f64 = 720.0;
const H: f64 = 500.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 24.0;
const TOP: f64 = 44.0;
const BOTTOM: f64 = 64.0;
const COLOURS: [&str; 6] = ["#c0392b", "#2471a3", "#229954", "#7d3c98", "#d68910", "#424949"];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

impl Plot {
    pub fn to_svg(&self) -> String {
        let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
        let px = |x: f64| LEFT + x * pw;
        let py = |y: f64| TOP + (1.0 - y) * ph;
        let mut s = String::new();
        let _ = writeln!(s, r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="13">"#);
        let _ = writeln!(s, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
        let _ = writeln!(s, r#"<text x="{}" y="26" text-anchor="middle" font-size="16">{}</text>"#, W / 2.0, esc(&self.title));
        for (v, label) in self.x.ticks() {
            if let Some(p) = self.x.pos(v) {
                let x = px(p);
                let _ = writeln!(s, r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{:.1}" stroke="#e0e0e0"/>"##, TOP + ph);
                let _ = writeln!(s, r#"<text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"#, TOP + ph + 18.0, esc(&label));
            }
        }
        for (v, label) in self.y.ticks() {
            if let Some(p) = self.y.pos(v) {
                let y = py(p);
                let _ = writeln!(s, r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#e0e0e0"/>"##, LEFT + pw);
                let _ = writeln!(s, r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#, LEFT - 6.0, y + 4.0, esc(&label));
            }
        }
        let _ = writeln!(s, r#"<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="black"/>"#);
        let _ = writeln!(s, r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#, LEFT + pw / 2.0, H - 18.0, esc(&self.x.label));
        let _ = writeln!(
            s,
            r#"<text x="18" y="{:.1}" text-anchor="middle" transform="rotate(-90 18 {:.1})">{}</text>"#,
            TOP + ph / 2.0,
            TOP + ph / 2.0,
            esc(&self.y.label)
        );
        for (i, ser) in self.series.iter().enumerate() {
            let c = COLOURS[i % COLOURS.len()];
            let pts: Vec<String> = ser
                .points
                .iter()
                .filter_map(|&(x, y)| Some(format!("{:.1},{:.1}", px(self.x.pos(x)?), py(self.y.pos(y)?))))
                .collect();
            let ly = TOP + 18.0 + 18.0 * i as f64;
            // The legend sits in the top-right corner; long names extend it to the left.
            let lx = LEFT + pw - 165.0 - 7.0 * (ser.name.chars().count() as f64 - 20.0).max(0.0);
            if ser.markers {
                for p in &pts {
                    let (x, y) = p.split_once(',').expect("x,y");
                    let _ = writeln!(s, r#"<circle cx="{x}" cy="{y}" r="5" fill="{c}"/>"#);
                }
                let _ = writeln!(s, r#"<circle cx="{:.1}" cy="{ly:.1}" r="5" fill="{c}"/>"#, lx - 12.0);
            } else {
                let _ = writeln!(s, r#"<polyline fill="none" stroke="{c}" stroke-width="2" points="{}"/>"#, pts.join(" "));
                let _ = writeln!(s, r#"<line x1="{:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{c}" stroke-width="2"/>"#, lx - 25.0, lx);
            }
            let _ = writeln!(s, r#"<text x="{:.1}" y="{:.1}">{}</text>"#, lx + 7.0, ly + 4.0, esc(&ser.name));
        }
        s.push_str("</svg>\n");
        s
    }

    /// Adds marked points (fractions on both axes, as the curve's) named `name`, e.g. operating points on a
    /// DET curve; points the axes cannot show are left out.
    pub fn add_markers(&mut self, name: &str, points: &[(f64, f64)]) {
        let points = points.iter().map(|&(x, y)| (x, 100.0 * y)).collect();
        self.series.push(Series { name: name.into(), points, markers: true });
    }

    /// Writes the SVG. The file name must end in `.svg`: the plots are vector text, not pixels.
    pub fn save(&self, path: &Path) -> Result<(), Error> {
        if path.extension().and_then(|e| e.to_str()).is_none_or(|e| !e.eq_ignore_ascii_case("svg")) {
            return Err(Error::invalid(format!("{}: plots are written as SVG; give a .svg file name", path.display())));
        }
        std::fs::write(path, self.to_svg()).map_err(|e| Error::Io { path: path.into(), source: e })
    }
}

/// Thins a curve to at most ~2,000 points (keeping the first and last) so the SVG stays small.
fn thin(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let step = points.len().div_ceil(2000).max(1);
    let mut v: Vec<(f64, f64)> = points.iter().step_by(step).copied().collect();
    if let Some(&last) = points.last() {
        if v.last() != Some(&last) {
            v.push(last);
        }
    }
    v
}

/// ROC: TAR (percent) against FAR (log) from (FAR, TAR fraction) points.
pub fn roc(points: &[(f64, f64)]) -> Plot {
    let pts: Vec<(f64, f64)> = thin(points).into_iter().map(|(far, tar)| (far, 100.0 * tar)).collect();
    let min_far = points.iter().map(|p| p.0).filter(|f| *f > 0.0).fold(1.0, f64::min).max(1e-7);
    let min_tar = pts.iter().filter(|p| p.0 >= 1e-4).map(|p| p.1).fold(100.0, f64::min);
    Plot {
        title: "ROC: genuine pairs accepted against impostor pairs accepted".into(),
        x: Axis::new("false-accept rate (FAR)", Scale::Log, 10f64.powf(min_far.log10().floor()), 1.0),
        y: Axis::new("true-accept rate (TAR), %", Scale::Linear, (min_tar - 1.0).floor().clamp(0.0, 99.0), 100.0),
        series: vec![Series { name: "facekit".into(), points: pts, markers: false }],
    }
}

/// DET: a miss rate (percent) against a false-alarm rate, both on log axes, from (false alarm, miss)
/// fraction points — liveness (BPCER against APCER) and open-set 1:N (FNIR against FPIR).
pub fn det(points: &[(f64, f64)], x_label: &str, y_label: &str, title: &str) -> Plot {
    let pts: Vec<(f64, f64)> = thin(points).into_iter().filter(|p| p.0 > 0.0 && p.1 > 0.0).map(|(x, y)| (x, 100.0 * y)).collect();
    let min_x = pts.iter().map(|p| p.0).fold(1.0, f64::min).max(1e-7);
    let min_y = pts.iter().map(|p| p.1).fold(100.0, f64::min).max(1e-3);
    Plot {
        title: title.into(),
        x: Axis::new(x_label, Scale::Log, 10f64.powf(min_x.log10().floor()), 1.0),
        y: Axis::new(y_label, Scale::Log, 10f64.powf(min_y.log10().floor()), 100.0),
        series: vec![Series { name: "facekit".into(), points: pts, markers: false }],
    }
}

/// Error-versus-reject: FNMR at FMR 1e-3 (percent) against the fraction of lowest-quality pairs rejected.
pub fn erc(points: &[(f64, f64)]) -> Plot {
    let max = points.iter().map(|p| p.1).filter(|v| v.is_finite()).fold(0.0, f64::max);
    Plot {
        title: "Error versus reject: FNMR at FMR 1e-3".into(),
        x: Axis::new("fraction of lowest-quality pairs rejected, %", Scale::Linear, 0.0, 30.0),
        y: Axis::new("FNMR at FMR 1e-3, %", Scale::Linear, 0.0, (max * 1.1).max(0.1)),
        series: vec![Series { name: "quality-ranked".into(), points: points.iter().map(|&(x, y)| (100.0 * x, y)).collect(), markers: false }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svg_has_labels_ticks_and_the_curve() {
        let p = roc(&[(1e-4, 0.9), (1e-3, 0.95), (1e-2, 0.98), (1.0, 1.0)]);
        let s = p.to_svg();
        assert!(s.contains("false-accept rate (FAR)") && s.contains("true-accept rate (TAR), %"));
        assert!(s.contains(">1e-3<") && s.contains(">1e-4<"), "decade ticks");
        assert_eq!(s.matches("<polyline").count(), 1);
        assert!(p.save(Path::new("/tmp/x.png")).is_err(), "only .svg names");
    }

    #[test]
    fn det_has_log_axes_and_marked_operating_points() {
        let curve = [(1e-3, 0.3), (1e-2, 0.12), (1e-1, 0.06), (1.0, 0.03)];
        let mut p = det(&curve, "FPIR", "FNIR, %", "Open-set DET");
        p.add_markers("rule", &[(8e-3, 0.13), (0.0, 0.5)]);
        let s = p.to_svg();
        assert!(s.contains(">FPIR<") && s.contains(">FNIR, %<") && s.contains(">1e-2<") && s.contains(">10<"), "{s}");
        assert_eq!(s.matches("<polyline").count(), 1);
        // One marker on the plot (the FPIR-0 point cannot be shown on a log axis), one in the legend.
        assert_eq!(s.matches("<circle").count(), 2);
    }

    #[test]
    fn linear_ticks_are_round_numbers() {
        let t = Axis::new("x", Scale::Linear, 0.0, 30.0).ticks();
        assert_eq!(t.first().unwrap().1, "0");
        assert!(t.iter().any(|(v, l)| *v == 10.0 && l == "10"), "{t:?}");
        let t = Axis::new("y", Scale::Linear, 90.0, 100.0).ticks();
        assert!(t.iter().all(|(v, _)| (90.0..=100.0).contains(v)) && t.len() >= 4, "{t:?}");
    }
}
