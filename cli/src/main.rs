//! `facekit` — the command line over the library. Parsing is clap's (derive): an unknown option, a missing
//! value, a value of the wrong type or an option a subcommand does not take is a usage error (exit code 2).
//! Every command maps its outcome to an exit code a script can branch on (see [`exit`]).

mod args;
mod bench;
mod camera;
mod commands;
mod draw;
mod eval;
mod exit;
mod plot;
mod track;
mod video;

use args::{ModelArgs, PipelineArgs, QualityArgs};
use clap::{Args, CommandFactory, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

const EXIT_CODES: &str = "\
Exit codes:
  0  success (verify: the faces match; identify: someone enrolled matched)
  1  no match (verify) / nobody enrolled matched (identify)
  2  usage error (unknown option, missing or bad value)
  3  no face found
  4  refused: not a live face (a print, a photo or a screen held up to the camera)
  5  refused: capture quality too poor (or the face too small / cut off for the liveness check)
  6  model error (model directory, manifest, checksum)
  7  input error (file missing, unreadable or not an image)
  8  data error (gallery corrupt or made by another model, unknown identity)
  9  not supported by this build
  10 internal error";

/// facekit — on-device face recognition: detect, align, embed, compare.
#[derive(Parser, Debug)]
#[command(name = "facekit", version = facekit::VERSION, after_help = EXIT_CODES, propagate_version = true)]
struct Cli {
    #[command(flatten)]
    models: ModelArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Faces, scores and 5 landmarks of each image.
    Detect {
        #[arg(required = true)]
        images: Vec<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Write the image with boxes and landmarks drawn (PNG); with several images, one file each.
        #[arg(long, value_name = "OUT.png")]
        draw: Option<PathBuf>,
        #[command(flatten)]
        pipeline: PipelineArgs,
    },
    /// Largest face of each image: the same person? Both captures are checked (quality, liveness) first.
    /// Exit 0 on a match, 1 on no match, 4/5 when a capture is refused.
    Verify {
        image_a: PathBuf,
        image_b: PathBuf,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        decision: args::DecisionArgs,
        #[command(flatten)]
        pipeline: PipelineArgs,
    },
    /// Quality report of the largest face of each image.
    Quality {
        #[arg(required = true)]
        images: Vec<PathBuf>,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        quality: QualityArgs,
        #[command(flatten)]
        pipeline: PipelineArgs,
    },
    /// Is each face live? (the face nearest the centre; exit 0 live, 4 not live, 5 not checkable).
    Liveness {
        #[arg(required = true)]
        images: Vec<PathBuf>,
        #[arg(long)]
        json: bool,
        /// Liveness operating point: the share of spoofs the calibrated threshold lets through.
        #[arg(long, value_name = "OP", default_value = facekit::LivenessPoint::default().key(), value_parser = args::liveness_op_parser())]
        liveness_op: facekit::LivenessPoint,
        #[command(flatten)]
        pipeline: PipelineArgs,
    },
    /// Evaluate the pipeline on labelled data.
    #[command(subcommand)]
    Eval(eval::EvalCommand),
    /// Measure operating-point thresholds on labelled data and write them into a manifest.
    #[command(subcommand)]
    Calibrate(eval::CalibrateCommand),
    /// Median milliseconds per stage on one photo, one thread (or `bench gallery`).
    Bench(bench::BenchArgs),
    /// Add the largest face of each image to a gallery under ID (checked under the enrolment policy: quality
    /// and liveness).
    Enroll {
        gallery: PathBuf,
        id: String,
        #[arg(required = true)]
        images: Vec<PathBuf>,
        /// Enroll captures of poor quality anyway (never a face the liveness check refuses).
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        decision: args::DecisionArgs,
        #[command(flatten)]
        pipeline: PipelineArgs,
    },
    /// Who is this? The capture is checked (quality, liveness) first. Exit 0 if someone enrolled matches, 1 if
    /// nobody does, 4/5 when the capture is refused.
    Identify {
        gallery: PathBuf,
        image: PathBuf,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        decision: args::DecisionArgs,
        #[command(flatten)]
        pipeline: PipelineArgs,
    },
    /// Move a gallery's templates in and out through the interchange file (.npz of `identities`,
    /// `templates`, `model_id`; readable with numpy.load, writable with numpy.savez).
    #[command(subcommand)]
    Gallery(commands::GalleryCommand),
    /// Follow faces through a video (or frames) and decide once per person; prints an event per line.
    Track(track::TrackArgs),
    /// Write the model directory as one in-memory pack (for fk_engine_new_from_memory).
    Pack {
        out: PathBuf,
        /// Only these models (comma-separated manifest names).
        #[arg(long, value_delimiter = ',', value_name = "NAME,...")]
        only: Option<Vec<String>>,
    },
    /// Print a shell completion script.
    Completions {
        shell: clap_complete::Shell,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        // clap prints help/version (exit 0) and usage errors with a hint (exit 2).
        Err(e) => e.exit(),
    };
    match run(cli) {
        Ok(code) => code.into(),
        Err(e) => {
            eprintln!("facekit: {e}");
            exit::of_error(&e).into()
        }
    }
}

fn run(cli: Cli) -> Result<exit::Code, facekit::Error> {
    let m = &cli.models;
    match cli.command {
        Command::Detect { images, json, draw, pipeline } => commands::detect(m, &pipeline, &images, json, draw.as_deref()),
        Command::Verify { image_a, image_b, json, decision, pipeline } => {
            commands::verify(m, &pipeline, &decision, &image_a, &image_b, json)
        }
        Command::Quality { images, json, quality, pipeline } => commands::quality(m, &pipeline, &quality, &images, json),
        Command::Eval(c) => eval::eval(m, c),
        Command::Calibrate(c) => eval::calibrate(m, c),
        Command::Bench(b) => bench::bench(m, b),
        Command::Enroll { gallery, id, images, force, decision, pipeline } => {
            commands::enroll(m, &pipeline, &decision, &gallery, &id, &images, force)
        }
        Command::Liveness { images, json, liveness_op, pipeline } => commands::liveness(m, &pipeline, liveness_op, &images, json),
        Command::Identify { gallery, image, json, decision, pipeline } => {
            commands::identify(m, &pipeline, &decision, &gallery, &image, json)
        }
        Command::Gallery(c) => commands::gallery(m, c),
        Command::Track(a) => track::track(m, a),
        Command::Pack { out, only } => commands::pack(m, &out, only.as_deref()),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "facekit", &mut std::io::stdout());
            Ok(exit::Code::Ok)
        }
    }
}

/// `--threads N` of the commands that embed many images.
#[derive(Args, Debug, Clone)]
pub struct ThreadArgs {
    /// Worker threads [default: all cores].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub threads: Option<u16>,
}

impl ThreadArgs {
    pub fn get(&self) -> usize {
        self.threads.map_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()), usize::from)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn command_definition_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
