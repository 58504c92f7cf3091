"""aelib installs as a complete package, outside the repository, the way readers install it.

A wheel is built from a copy of the sources (so the repository gets no ``build/`` folder), then
installed with pip, non-editable, into a fresh virtual environment; the same is done with
``pip install <source folder>`` and ``pip install git+<repository>``. Nothing is downloaded:
the new environments see the third-party packages of the test environment through a ``.pth``
file that lists a folder of links to them, from which every trace of the editable aelib is left
out, so the only aelib they can import is the one pip just installed. Then, from an empty
folder, aelib, its exercise checks and both datasets must load, and every chapter, copied alone
into an empty folder, must execute from top to bottom under strict nbval, with another BLAS kernel.
"""
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SOURCES = ["pyproject.toml", "README.md", "aelib", "data"]
# The datasets and the subpackage that a wheel built with `packages = ["aelib"]` used to miss, and
# the explorers' JavaScript, a file of its own.
EXPECTED_IN_WHEEL = ["aelib/__init__.py", "aelib/checks/__init__.py", "aelib/datasets/font5x7.txt",
                     "aelib/datasets/font5x7_digits.txt", "aelib/datasets/emojis12x12.txt", "aelib/explorers.js"]

# What an installed aelib must do from a folder that holds nothing of the repository.
SMOKE_TEST = textwrap.dedent("""
    import os, sys
    from pathlib import Path
    import aelib, aelib.checks
    prefix = Path(sys.prefix).resolve()
    for what, where in [("aelib", aelib.__file__), ("font", aelib.data.dataset_path("font5x7.txt")),
                        ("emojis", aelib.data.dataset_path("emojis12x12.txt"))]:
        assert prefix in Path(str(where)).resolve().parents, f"{what} comes from {where}, not from {prefix}"
    X, labels = aelib.load_font()
    E, names = aelib.load_emojis()
    assert aelib.load_font_digits()[0].shape == (10, 35)
    assert "function forward(network, input)" in aelib.widgets._JS
    assert X.shape == (27, 35) and len(labels) == 27, X.shape
    assert E.shape[1] == 144 and len(names) == E.shape[0], E.shape
    print("ok", X.shape, E.shape)
""")


def run(command, cwd, env=None, timeout=300):
    result = subprocess.run([str(part) for part in command], cwd=cwd, env=env, capture_output=True,
                            text=True, timeout=timeout)
    assert result.returncode == 0, (f"{' '.join(map(str, command))} failed in {cwd}:\n"
                                    f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result.stdout


def copy_sources(destination):
    """The files a build needs, copied without caches (the build writes its folders there)."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    destination.mkdir(parents=True, exist_ok=True)
    for name in SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, destination / name, ignore=ignore)
        else:
            shutil.copy2(source, destination / name)
    return destination


@pytest.fixture(scope="module")
def third_party(tmp_path_factory):
    """A folder of links to the test environment's packages, without the editable aelib."""
    site_packages = Path(sysconfig.get_paths()["purelib"])
    folder = tmp_path_factory.mktemp("third-party")
    for entry in site_packages.iterdir():
        lowered = entry.name.lower()
        if "aelib" in lowered or entry.suffix == ".pth" or lowered == "__pycache__":
            continue
        (folder / entry.name).symlink_to(entry)
    return folder


def new_environment(where, third_party):
    """A fresh virtual environment at ``where`` that can import the test environment's packages."""
    # No pip inside: this environment's pip installs into it (`pip --python`), which is faster.
    run([sys.executable, "-m", "venv", "--without-pip", where], cwd=where.parent)
    python = where / "bin" / "python"
    purelib = run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=where)
    (Path(purelib.strip()) / "third_party.pth").write_text(f"{third_party}\n", encoding="utf-8")
    return python


def clean_env():
    """The test's environment without anything that would put the repository on sys.path."""
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "PYTHONHOME")}
    env["PIP_NO_INDEX"] = "1"  # nothing is fetched: the build and install use what is here
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def pip(python, *arguments, cwd):
    """Run pip for the environment of ``python``."""
    return run([sys.executable, "-m", "pip", "--python", python, *arguments], cwd=cwd, env=clean_env())


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    source = copy_sources(tmp_path_factory.mktemp("source"))
    dist = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--wheel-dir", dist,
         source], cwd=source, env=clean_env())
    wheels = list(dist.glob("aelib-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="module")
def wheel_python(wheel, third_party, tmp_path_factory):
    """The python of a fresh environment where aelib was installed from the wheel."""
    python = new_environment(tmp_path_factory.mktemp("wheel-env") / "venv", third_party)
    pip(python, "install", "--no-deps", wheel, cwd=wheel.parent)
    return python


def test_the_wheel_holds_every_subpackage_and_both_datasets(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    missing = [name for name in EXPECTED_IN_WHEEL if name not in names]
    assert not missing, f"{wheel.name} lacks {missing}"
    top_level = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert top_level == {"aelib"}, f"{wheel.name} installs more than aelib: {sorted(top_level)}"


def test_the_installed_wheel_works_from_an_empty_folder(wheel_python, tmp_path):
    output = run([wheel_python, "-c", SMOKE_TEST], cwd=tmp_path, env=clean_env())
    assert output.startswith("ok")
    # Every requirement that aelib declares is met by what the environment has.
    pip(wheel_python, "check", cwd=tmp_path)


@pytest.mark.parametrize("how", ["source folder", "git"])
def test_pip_install_from_source_and_from_git(how, third_party, tmp_path):
    python = new_environment(tmp_path / "venv", third_party)
    if how == "git":
        if not (ROOT / ".git").exists():
            pytest.skip("the repository is not a git checkout")
        # The committed state of this checkout, through pip's own git support.
        target = f"git+file://{ROOT}@{run(['git', 'rev-parse', 'HEAD'], cwd=ROOT).strip()}"
    else:
        target = copy_sources(tmp_path / "source")
    pip(python, "install", "--no-deps", "--no-build-isolation", target, cwd=tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run([python, "-c", SMOKE_TEST], cwd=empty, env=clean_env()).startswith("ok")


def test_building_leaves_nothing_in_the_repository():
    ignored = run(["git", "check-ignore", "build/x", "dist/x", "aelib.egg-info/x"], cwd=ROOT).split()
    assert ignored == ["build/x", "dist/x", "aelib.egg-info/x"]


# Another BLAS kernel, on one thread, so that a stored output that holds only on one machine's
# kernel fails here (see "Across machines" in README.md). Sandybridge runs on every x86-64 CPU
# with AVX and is the default only of Intel CPUs from 2011-2013: recent Intel and AMD CPUs get
# Haswell, Zen or SkylakeX, so this run differs from the first on any machine likely to run it.
OTHER_CPU = {"OPENBLAS_CORETYPE": "Sandybridge", "OPENBLAS_NUM_THREADS": "1"}


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.name)
def test_each_chapter_runs_alone_with_the_installed_wheel_on_another_cpu(notebook, wheel_python, tmp_path):
    """A downloaded chapter, alone in a folder, with aelib from the wheel and no repository around,
    executed under strict nbval with another BLAS kernel: every stored output must come out the same.

    This is the second nbval run of `make test` (the first, in the test environment, runs the
    notebooks where they are, with this machine's kernel)."""
    copy = tmp_path / notebook.name
    shutil.copy2(notebook, copy)
    env = clean_env() | OTHER_CPU
    # The kernel is this environment's python (ipykernel's own kernel spec uses sys.executable);
    # a separate Jupyter data folder keeps kernel specs installed elsewhere out of it.
    env["JUPYTER_PATH"] = str(tmp_path / "jupyter")
    env["JUPYTER_DATA_DIR"] = str(tmp_path / "jupyter")
    run([wheel_python, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--nbval", "--nbval-sanitize-with",
         ROOT / "tests" / "nbval_sanitize.cfg", copy.name], cwd=tmp_path, env=env, timeout=900)
    assert sorted(path.name for path in tmp_path.iterdir() if path.name != "jupyter") == [notebook.name]


def test_each_chapter_installs_aelib_on_colab_from_the_books_repository():
    """The first code cell installs aelib on Colab only, from the repository and branch in _config.yml."""
    config = (ROOT / "_config.yml").read_text(encoding="utf-8")
    url = next(line.split(":", 1)[1].strip() for line in config.splitlines() if line.strip().startswith("url:"))
    branch = next(line.split(":", 1)[1].strip() for line in config.splitlines()
                  if line.strip().startswith("branch:"))
    expected = f'%pip install --quiet "aelib @ git+{url}@{branch}"'
    for path in NOTEBOOKS:
        first = next(cell for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code")
        lines = first.source.splitlines()
        guard = 'if "google.colab" in sys.modules:'
        assert any(line.startswith(guard) for line in lines), f"{path.name}: no Colab guard in the first code cell"
        body = lines[next(i for i, line in enumerate(lines) if line.startswith(guard)) + 1:]
        indented = [line.strip() for line in body[:2]]
        assert indented[0].startswith("print(") and expected in indented[1], (
            f"{path.name}: the Colab step must print one line and then run {expected!r}, found {indented}")
        assert lines.index("import aelib") > lines.index(next(l for l in lines if l.startswith(guard)))
