"""Materials: database names onto 7 bands, the project's own table, numbers, mistakes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pyroomacoustics.parameters import materials_absorption_table

from scene import BANDS_HZ, SceneError
from scene.materials import ALIASES, SUPPLEMENTARY, material_names, resolve_material


def _resolve(value: object):
    return resolve_material(value, file="s.yaml", field="room.materials.floor")


def test_seven_band_entry_is_taken_as_is() -> None:
    entry = materials_absorption_table["brickwork"]
    assert len(entry["coeffs"]) == 7
    assert _resolve("brickwork").absorption == tuple(entry["coeffs"])


def test_six_band_entry_holds_4k_at_8k() -> None:
    entry = materials_absorption_table["carpet_thin"]
    assert entry["center_freqs"] == [125, 250, 500, 1000, 2000, 4000]
    bands = _resolve("carpet_thin").absorption
    assert bands[:6] == tuple(entry["coeffs"]) and bands[6] == bands[5]


def test_the_database_file_reads_as_pyroomacoustics_reads_it() -> None:
    # The table is read from pyroomacoustics' materials.json without importing the package.
    for name, entry in materials_absorption_table.items():
        coeffs = tuple(entry["coeffs"])
        bands = _resolve(name).absorption
        assert bands[: len(coeffs)] == coeffs, name
        assert set(bands[len(coeffs) :]) <= {coeffs[-1]}, name
        assert entry["description"] in _resolve(name).source, name


def test_resolving_a_material_does_not_import_pyroomacoustics() -> None:
    code = (
        "import sys; from scene.materials import resolve_material; "
        "resolve_material('brickwork', file=None, field='f'); "
        "print('pyroomacoustics' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_every_name_resolves_to_seven_coefficients_in_range() -> None:
    names = material_names()
    assert set(materials_absorption_table) | set(SUPPLEMENTARY) | set(ALIASES) == set(names)
    for name in names:
        bands = _resolve(name).absorption
        assert len(bands) == len(BANDS_HZ), name
        assert all(0.0 <= a <= 1.0 for a in bands), name


@pytest.mark.parametrize(
    "name",
    [
        "wood_floor_on_joists",
        "sand",
        "grass",
        "water_surface",
        "marble",
        "glass",
        "carpet",
        "curtains",
    ],
)
def test_names_users_expect(name: str) -> None:
    material = _resolve(name)
    assert material.name == name and material.source != "scene file"


def test_outdoor_grounds_are_ordered_sensibly() -> None:
    # Water reflects almost everything; grass absorbs more than sand at high frequencies.
    water, sand, grass = (_resolve(n).absorption for n in ("water_surface", "sand", "grass"))
    assert max(water) < 0.05 < min(sand)
    assert grass[-1] > sand[-2] > water[-1]


def test_alias_matches_its_target_and_names_are_forgiving() -> None:
    assert _resolve("marble").absorption == _resolve("marble_floor").absorption
    assert (
        _resolve("Wood Floor On Joists").absorption == _resolve("wood_floor_on_joists").absorption
    )


def test_numbers() -> None:
    assert _resolve(0.25).absorption == (0.25,) * 7
    assert _resolve(1).absorption == (1.0,) * 7
    assert _resolve([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]).absorption[3] == 0.4


@pytest.mark.parametrize(
    ("value", "pattern"),
    [
        ("marbel", r"got 'marbel'; unknown material; did you mean marble"),
        ("xyzzy", r"got 'xyzzy'; unknown material; the names are listed in docs/scene-format\.md"),
        (1.5, r"got 1\.5; an absorption coefficient must be between 0"),
        (-0.1, r"got -0\.1; an absorption coefficient"),
        (float("nan"), r"got nan; an absorption coefficient"),
        ([0.1] * 6, r"needs 7 numbers in \[0, 1\]"),
        ([0.1, 0.1, 0.1, 2, 0.1, 0.1, 0.1], r"\[3\]: got 2; an absorption"),
        (True, r"got True; must be a material name"),
        ({"a": 1}, r"must be a material name"),
    ],
)
def test_mistakes(value: object, pattern: str) -> None:
    with pytest.raises(SceneError, match=r"^s\.yaml: room\.materials\.floor.*" + pattern):
        _resolve(value)


def test_docs_list_every_material() -> None:
    docs = (Path(__file__).resolve().parents[1] / "docs" / "scene-format.md").read_text("utf-8")
    missing = [name for name in material_names() if f"| `{name}` |" not in docs]
    assert missing == [], f"docs/scene-format.md lacks {missing}"
