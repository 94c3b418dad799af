"""scripts/check-includes.sh, the include-arrow check: it passes on this tree and fails, naming
file, line and arrow, on a copy of the tree with one include it must refuse."""
import pathlib
import shutil
import subprocess

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "check-includes.sh"


def run(root, script=SCRIPT):
    return subprocess.run(["bash", str(script), str(root)], capture_output=True, text=True, timeout=60)


def copy_tree(tmp_path):
    shutil.copytree(ROOT / "src", tmp_path / "src")
    return tmp_path


def add_file(root, rel, text):
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)


def test_this_tree_passes():
    r = run(ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "; 0 errors" in r.stdout


def test_a_forbidden_include_fails_naming_file_line_and_arrow(tmp_path):
    root = copy_tree(tmp_path)
    assert run(root).returncode == 0  # the copy as it is passes
    add_file(root, "src/registry/zz_probe.h", "/* a header of registry/ */\n")
    add_file(root, "src/store/zz_probe.c", '#include "common/dd.h"\n\n#include "registry/zz_probe.h"\n')
    r = run(root)
    assert r.returncode == 1, r.stdout + r.stderr
    errors = [l for l in r.stdout.splitlines() if not l.startswith("check-includes:")]
    assert len(errors) == 1, r.stdout
    assert errors[0].startswith('src/store/zz_probe.c:3: #include "registry/zz_probe.h": store -> registry is forbidden')
    assert "; 1 errors" in r.stdout


def test_common_includes_no_other_folder_even_by_a_relative_path(tmp_path):
    root = copy_tree(tmp_path)
    add_file(root, "src/common/zz_probe.c", '#include "../http/server.h"\n')
    r = run(root)
    assert r.returncode == 1
    assert 'src/common/zz_probe.c:1: #include "../http/server.h": common -> http is forbidden' in r.stdout


def test_an_arrow_missing_from_the_table_fails(tmp_path):
    root = copy_tree(tmp_path)
    add_file(root, "src/version/zz_probe.c", '#include "vulndb/osv.h"\n')
    r = run(root)
    assert r.returncode == 1
    assert "version -> vulndb is not an allowed arrow" in r.stdout


def test_a_new_folder_must_be_placed_in_the_table(tmp_path):
    root = copy_tree(tmp_path)
    add_file(root, "src/zzmod/zz.c", '#include "zz.h"\n')
    add_file(root, "src/zzmod/zz.h", "\n")
    r = run(root)
    assert r.returncode == 1
    assert "folder src/zzmod/ has no line in the table of allowed arrows" in r.stdout


def test_the_table_cannot_allow_a_forbidden_arrow(tmp_path):
    root = copy_tree(tmp_path)
    text = SCRIPT.read_text()
    assert "\nregistry:  common" in text
    script = tmp_path / "check-includes.sh"
    script.write_text(text.replace("\nregistry:  common", "\nregistry:  scan common", 1))
    r = run(root, script)
    assert r.returncode == 1
    assert "the table allows registry -> scan, a forbidden arrow" in r.stdout


def test_an_exception_no_longer_needed_is_reported_without_failing(tmp_path):
    root = copy_tree(tmp_path)
    text = SCRIPT.read_text()
    script = tmp_path / "check-includes.sh"
    script.write_text(text.replace("EXCEPTIONS='\n", "EXCEPTIONS='\nsrc/common/arena.c scan/none.h a probe\n", 1))
    r = run(root, script)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "exception no longer needed, delete its line: src/common/arena.c includes scan/none.h" in r.stderr
