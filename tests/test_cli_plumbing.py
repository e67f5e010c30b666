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


# ------------------------------------------------------------------------------------------------
# numeric validators, help text, signals
# ------------------------------------------------------------------------------------------------
import os  # noqa: E402
import signal  # noqa: E402

from loomis import io  # noqa: E402


def _parser():
    p = cli.ArgumentParser(prog="x")
    p.add_argument("--frames", type=cli.frames_arg, default=None, help="frame count")
    p.add_argument("--fps", type=cli.fps_arg, default=None, help="frame rate")
    p.add_argument("--guidance", type=cli.guidance_arg, default=5.0, help="cfg")
    p.add_argument("--size", type=cli.size_arg, default=None, help="size")
    p.add_argument("--device", type=cli.device_arg, default=None, help="device")
    p.add_argument("--flag", action="store_true", help="a flag")
    return p


@pytest.mark.parametrize(
    "argv,msg",
    [
        (["--frames", "0"], r"argument --frames: must be from 2 to 1001 \(every frame is held in memory"),
        (["--frames", "2000000"], r"must be from 2 to 1001 .*got 2000000"),
        (["--frames", "7.5"], r"must be a whole number, got '7.5'"),
        (["--fps", "0"], r"--fps: must be greater than 0 and at most 120 \(players"),
        (["--fps", "-8"], r"--fps: must be greater than 0"),
        (["--fps", "inf"], r"--fps: must be a finite number, got 'inf'"),
        (["--fps", "nan"], r"--fps: must be a finite number, got 'nan'"),
        (["--guidance", "nan"], r"--guidance: must be a finite number"),
        (["--guidance", "0.5"], r"--guidance: must be from 1 to 30"),
        (["--size", "100000x100000"], r"each side must be from 16 to 2048 pixels"),
        (["--size", "big"], r"must be 480p, 720p or WxH"),
        (["--device", "tpu9"], r"unknown device 'tpu9'; use cpu, cuda or cuda:N"),
    ],
)
def test_numeric_and_device_options_are_validated_while_parsing(argv, msg):
    with pytest.raises(InputError, match=msg) as exc:
        _parser().parse_args(argv)
    assert "\n" not in str(exc.value) and str(exc.value).endswith("(see 'x --help')")


def test_valid_values_pass_through():
    a = _parser().parse_args(["--frames", "81", "--fps", "12.5", "--size", "832X480", "--device", "cuda:1"])
    assert (a.frames, a.fps, a.size, a.device, a.guidance) == (81, 12.5, "832x480", "cuda:1", 5.0)


def test_help_shows_defaults_without_none_noise():
    text = _parser().format_help()
    assert "(default: 5.0)" in text
    assert "(default: None)" not in text and "(default: False)" not in text
    import argparse

    stock = cli.ArgumentParser(prog="y", formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    stock.add_argument("--x", default=None, help="x")
    assert "(default: None)" not in stock.format_help()  # subcommands passing the stock class too


def test_output_arg_checks_while_parsing(tmp_path):
    p = cli.ArgumentParser(prog="x")
    p.add_argument("out", type=cli.output_arg("file"))
    with pytest.raises(InputError, match=r"argument out: output folder .*nowhere does not exist"):
        p.parse_args([str(tmp_path / "nowhere" / "a.safetensors")])
    (tmp_path / "d").mkdir()
    with pytest.raises(InputError, match="is an existing folder"):
        p.parse_args([str(tmp_path / "d")])


@pytest.mark.parametrize("signum,code", [(signal.SIGTERM, 143), (signal.SIGINT, 130), (signal.SIGHUP, 129)])
def test_signals_exit_128_plus_n_and_remove_the_temp(tmp_path, capsys, signum, code):
    out = tmp_path / "out.bin"
    out.write_bytes(b"old")

    def body(_argv):
        with io.atomic_path(out) as tmp:
            tmp.write_bytes(b"half")
            os.kill(os.getpid(), signum)
            raise AssertionError("not reached: the signal interrupts the write")

    before = signal.getsignal(signal.SIGTERM)
    assert cli.run_main(body) == code
    assert out.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["out.bin"]
    err = capsys.readouterr().err
    assert err == f"error: interrupted ({signal.Signals(signum).name}); unfinished outputs were discarded\n"
    assert signal.getsignal(signal.SIGTERM) is before  # handlers restored after the command


def test_a_blocked_sigterm_is_unblocked_for_the_command_and_restored(capsys):
    """A launcher may hand down SIGTERM blocked: it would stay pending and the run finish with
    exit 0 as if never asked to stop. The command unblocks it, then restores the caller's mask."""
    seen = {}

    def body(_argv):
        seen["blocked"] = signal.SIGTERM in signal.pthread_sigmask(signal.SIG_BLOCK, [])
        os.kill(os.getpid(), signal.SIGTERM)
        raise AssertionError("not reached")

    old = signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGTERM])
    try:
        assert cli.run_main(body) == 143 and seen["blocked"] is False
        assert signal.SIGTERM in signal.pthread_sigmask(signal.SIG_BLOCK, [])
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
    assert "interrupted (SIGTERM)" in capsys.readouterr().err


def test_an_ignored_sighup_stays_ignored_under_nohup():
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        assert cli.run_main(lambda _argv: os.kill(os.getpid(), signal.SIGHUP)) == 0
    finally:
        signal.signal(signal.SIGHUP, previous)
