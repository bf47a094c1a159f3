"""How our package reaches remote SDK workers: in their container image, or built from packaging files.

With an image made from the repository's `Dockerfile`, the package, pkuseg's model and a warm jieba
cache are already in place and workers start without installing anything: the way for large jobs,
where hundreds of workers each pip-installing would cost minutes apiece. Without one, Beam builds an
sdist of the project on the launching machine (`python -m build --no-isolation --sdist`, offline) and
stages it; every worker then pip-installs it into Beam's stock container, which needs PyPI access.
"""
from __future__ import annotations

from pathlib import Path

from schemas.errors import UserInputError

PROJECT_FILE = Path(__file__).resolve().parents[1] / "pyproject.toml"


def setup_file_to_ship(setup_file: str | None, image: str | None) -> str | None:
    """The packaging file to build an sdist from, or None when the image already holds the package."""
    if setup_file:
        if not Path(setup_file).is_file():
            raise UserInputError(f"--setup-file {setup_file} does not exist")
        return str(Path(setup_file).resolve())
    if image:
        return None
    if PROJECT_FILE.is_file():
        return str(PROJECT_FILE)
    raise UserInputError(
        "this installation has no pyproject.toml to ship to the workers: pass --sdk-container-image "
        "(an image built from the Dockerfile) or --setup-file"
    )
