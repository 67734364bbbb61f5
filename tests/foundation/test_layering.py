"""The layering rules of DESIGN.md, checked on the source and on what really gets imported."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOMAIN_FORBIDDEN = {
    "textual",
    "httpx",
    "nfc",
    "cv2",
    "pyzbar",
    "zxingcpp",
    "sqlite3",
    "backend_stub",
    "terminal.client",
    "terminal.journal",
    "terminal.tui",
    "drivers",
    "socket",
    "requests",
    "uvicorn",
    "fastapi",
}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def forbidden(names: set[str], banned: set[str]) -> set[str]:
    return {n for n in names if any(n == b or n.startswith(b + ".") for b in banned)}


@pytest.mark.parametrize("path", sorted((REPO / "terminal" / "domain").rglob("*.py")), ids=lambda p: p.name)
def test_domain_imports_no_io(path: Path) -> None:
    assert forbidden(imports_of(path), DOMAIN_FORBIDDEN) == set()


def test_terminal_never_imports_backend_stub() -> None:
    offenders = {
        str(p.relative_to(REPO))
        for p in (REPO / "terminal").rglob("*.py")
        if forbidden(imports_of(p), {"backend_stub"})
    }
    assert offenders == set()


def test_drivers_never_import_terminal() -> None:
    offenders = {
        str(p.relative_to(REPO))
        for p in (REPO / "drivers").rglob("*.py")
        if forbidden(imports_of(p), {"terminal", "backend_stub"})
    }
    assert offenders == set()


def test_checker_sees_a_violation() -> None:
    # the check itself must be able to fail
    assert forbidden({"httpx", "os"}, DOMAIN_FORBIDDEN) == {"httpx"}


def loaded_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    return set(out.stdout.split())


def test_importing_the_domain_loads_no_io_library() -> None:
    mods = loaded_after("import terminal.domain.money, terminal.domain.session, terminal.domain.signing")
    assert forbidden(mods, {"httpx", "sqlite3", "textual", "nfc", "cv2", "backend_stub"}) == set()


def test_importing_drivers_loads_neither_nfcpy_nor_opencv() -> None:
    mods = loaded_after("import drivers; drivers.registry.check_device_string('sim:nfc')")
    assert forbidden(mods, {"nfc", "cv2", "pyzbar", "zxingcpp", "numpy"}) == set()


def test_pay_cli_does_not_import_backend_stub_for_a_url_backend() -> None:
    mods = loaded_after("import terminal.cli.pay")
    assert forbidden(mods, {"backend_stub", "fastapi"}) == set()
