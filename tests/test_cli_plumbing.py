import pytest

from loomis import cli
from loomis.errors import InputError


def test_run_main_maps_exceptions_to_exit_codes(capsys):
    def bad(_argv):
        raise InputError("frames must be 4k+1\nsecond line never shown")

    assert cli.run_main(bad) == 2
    assert capsys.readouterr().err == "error: frames must be 4k+1\n"
    assert cli.run_main(lambda a: None) == 0
    with pytest.raises(RuntimeError):
        cli.run_main(lambda a: (_ for _ in ()).throw(RuntimeError("internal")))


def test_rank_and_progress(monkeypatch):
    monkeypatch.setenv("RANK", "3")
    assert cli.rank() == 3 and cli.progress_enabled() is False
    monkeypatch.delenv("RANK")
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    assert cli.rank() == 0


def test_parser_errors_are_one_line_usage_errors():
    p = cli.ArgumentParser(prog="x")
    p.add_argument("--n", type=int, default=3, help="n")
    with pytest.raises(InputError, match=r"argument --n: invalid int value: 'q' \(see 'x --help'\)"):
        p.parse_args(["--n", "q"])
    assert "(default: 3)" in p.format_help()
