"""The three descriptions of the environment agree: requirements.txt (what the book needs),
environment.yml (the same for conda users) and constraints.txt (the full resolved set)."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)$")


def canonical(name):
    # Package names compare case-insensitively, with runs of "-", "_" and "." equal (PEP 503).
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_pins(lines, where):
    """{canonical name: version} from 'name==version' lines; anything else fails the test."""
    pins = {}
    for line in lines:
        match = PIN.match(line)
        assert match, f"{where}: expected an exact pin 'name==version', found {line!r}"
        name, version = match.groups()
        assert canonical(name) not in pins, f"{where}: {name} is pinned twice"
        pins[canonical(name)] = version
    return pins


def requirement_lines(path):
    lines = (line.split("#", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line]


def read_environment():
    """environment.yml as {"name", "channels", "dependencies", "pip"}, read with PyYAML if it is
    installed and otherwise by a small parser for this file's simple layout."""
    text = (ROOT / "environment.yml").read_text(encoding="utf-8")
    try:
        import yaml
    except ImportError:
        return parse_simple_environment(text)
    data = yaml.safe_load(text)
    dependencies = data.get("dependencies") or []
    pip_sections = [item["pip"] for item in dependencies if isinstance(item, dict) and "pip" in item]
    assert len(pip_sections) == 1, "environment.yml: expected exactly one 'pip:' section"
    return {"name": data.get("name"), "channels": data.get("channels") or [],
            "dependencies": [item for item in dependencies if isinstance(item, str)],
            "pip": [str(item) for item in pip_sections[0]]}


def parse_simple_environment(text):
    result = {"name": None, "channels": [], "dependencies": [], "pip": []}
    section = None
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].rstrip()
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        indent = len(line) - len(line.lstrip())
        item = line.strip()
        if indent == 0:
            key, _, value = item.partition(":")
            section = key
            if key == "name":
                result["name"] = value.strip()
        elif item == "- pip:":
            section = "pip"
        elif item.startswith("- "):
            value = item[2:].strip()
            if section == "channels":
                result["channels"].append(value)
            elif section == "dependencies":
                result["dependencies"].append(value)
            elif section == "pip":
                result["pip"].append(value)
    return result


@pytest.fixture(scope="module")
def requirements():
    return parse_pins(requirement_lines(ROOT / "requirements.txt"), "requirements.txt")


@pytest.fixture(scope="module")
def constraints():
    return parse_pins(requirement_lines(ROOT / "constraints.txt"), "constraints.txt")


@pytest.fixture(scope="module")
def environment():
    return read_environment()


def test_environment_header(environment):
    assert environment["name"] == "autoencoders-from-scratch"
    assert environment["channels"] == ["conda-forge"]
    assert environment["dependencies"] == ["python=3.11", "pip"]


def differences(expected, actual):
    """(missing from actual, extra in actual, {name: (expected version, actual version)})."""
    missing = sorted(set(expected) - set(actual))
    extra = sorted(set(actual) - set(expected))
    different = {name: (expected[name], actual[name]) for name in set(expected) & set(actual)
                 if expected[name] != actual[name]}
    return missing, extra, different


def test_environment_pip_section_matches_requirements(environment, requirements):
    entries = environment["pip"]
    assert "-e ." in entries, "environment.yml: the pip section must install the book's package with '-e .'"
    pins = parse_pins([entry for entry in entries if entry != "-e ."], "environment.yml pip section")
    missing, extra, different = differences(requirements, pins)
    assert not missing, f"pinned in requirements.txt but missing from environment.yml: {missing}"
    assert not extra, f"listed in environment.yml but not in requirements.txt: {extra}"
    assert not different, f"versions differ (requirements.txt, environment.yml): {different}"


def test_every_requirement_is_in_the_constraints_with_the_same_version(requirements, constraints):
    missing, _, different = differences(requirements, constraints)
    assert not missing, f"pinned in requirements.txt but missing from constraints.txt: {missing}"
    assert not different, f"versions differ (requirements.txt, constraints.txt): {different}"


def test_drift_is_noticed():
    pins = parse_pins(["numpy==2.4.6", "PyYAML==6.0.4"], "example")
    assert pins == {"numpy": "2.4.6", "pyyaml": "6.0.4"}
    assert differences(pins, parse_pins(["pyyaml==6.0.4", "NumPy==2.4.6"], "example")) == ([], [], {})
    assert differences(pins, parse_pins(["numpy==2.4.7", "tqdm==4.0"], "example")) == (
        ["pyyaml"], ["tqdm"], {"numpy": ("2.4.6", "2.4.7")})
    with pytest.raises(AssertionError, match="exact pin"):
        parse_pins(["numpy>=2"], "example")


def test_the_fallback_parser_reads_environment_yml_as_pyyaml_does():
    pytest.importorskip("yaml")
    text = (ROOT / "environment.yml").read_text(encoding="utf-8")
    assert parse_simple_environment(text) == read_environment()


def test_the_oldest_supported_versions_are_the_floors_in_pyproject():
    """requirements-oldest.txt, whose set `make test` runs aelib's unit tests against, pins each of
    aelib's dependencies that it lists at exactly the floor that pyproject.toml declares."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    declared = re.search(r"^dependencies = \[(.*)\]$", text, re.MULTILINE).group(1)
    floors = dict(re.findall(r'"([A-Za-z0-9_.-]+)>=([0-9.]+)"', declared))
    assert floors, "pyproject.toml: no '>=' floors found in dependencies"
    oldest = parse_pins(requirement_lines(ROOT / "requirements-oldest.txt"), "requirements-oldest.txt")
    tested = {name: version for name, version in floors.items() if canonical(name) in oldest}
    assert set(tested) == set(floors), "every dependency must be tested at its floor"
    for name, floor in tested.items():
        pinned = oldest[canonical(name)]
        # ">=1.24" is met first by 1.24.0: the pin must be that release, not a later one.
        assert pinned.split(".")[:len(floor.split("."))] == floor.split(".") and \
            all(part == "0" for part in pinned.split(".")[len(floor.split(".")):]), (
            f"requirements-oldest.txt pins {name}=={pinned}, but pyproject.toml's floor is >={floor}")
