"""tfzoo-generative benchmarks; `nox -s bench-generative` runs this file and it writes BENCHMARKS.md.

Blocks (each a module here with `run(quick) -> markdown`):
  autoencoder  实例76-80: test MSE / PSNR per variant beside PCA of the same code size; stacked fine-tuning
  vae          实例82-83: test ELBO, FD-DC of prior samples, CVAE class faithfulness
  gan          实例88-92 and DCGAN: FD-DC with floor and ceilings, class faithfulness, code accuracy
  gan_loop     the same DCGAN under tfzoo's Trainer and a bare tf.function loop, alternating rounds: step-time ratio
  superres     实例93-96: PSNR / Y-PSNR / SSIM against nearest, bilinear and bicubic on held-out photos

    python generative/benchmarks/run.py                  # everything, rewrites the generative section
    python generative/benchmarks/run.py --only gan
    python generative/benchmarks/run.py --quick          # smoke-sized; writes only with --write
"""

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent))

if __name__ == "__main__":
    from tfzoo.common.bench import run_blocks

    raise SystemExit(run_blocks(domain="generative", blocks=("autoencoder", "vae", "gan", "gan_loop", "superres"),
                                description=__doc__.split("\n\n")[0]))
