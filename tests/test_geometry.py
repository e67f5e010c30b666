import numpy as np
import pytest

from loomis.errors import InputError
from loomis.geometry import Box, buckets, check_frames, choose_bucket, fit_box, parse_size, resize_and_pad


@pytest.mark.parametrize("n", [1, 5, 9, 49, 81])
def test_check_frames_accepts_4k_plus_1(n):
    assert check_frames(n) == n


@pytest.mark.parametrize("n,msg", [(48, "49"), (80, "81"), (0, r"4k\+1"), (10, "9 or 13")])
def test_check_frames_rejects_others_naming_neighbours(n, msg):
    with pytest.raises(InputError, match=msg):
        check_frames(n)


def test_buckets_are_multiples_of_16_with_about_the_area():
    bs = buckets(832 * 480)
    assert (832, 480) in bs and (480, 832) in bs
    for w, h in bs:
        assert w % 16 == 0 and h % 16 == 0
        assert 0.5 <= w / h <= 2.0
        assert abs(w * h - 832 * 480) / (832 * 480) < 0.06


def test_choose_bucket_matches_aspect():
    bs = buckets(832 * 480)
    assert choose_bucket(1664, 960, bs) == (832, 480)  # exactly 480p's aspect
    assert choose_bucket(960, 1664, bs) == (480, 832)
    w, h = choose_bucket(1000, 1000, bs)
    assert abs(w / h - 1) < 0.03  # no exact square bucket at this area (632 is not a multiple of 16)


def test_parse_size_forms():
    assert parse_size("480p", (1664, 960)) == (832, 480)
    assert parse_size("100x70", (1, 1)) == (96, 64)  # snapped to multiples of 16
    assert parse_size((33, 40), (1, 1)) == (32, 32)  # floored, as diffusers does
    with pytest.raises(InputError, match="480p, 720p or WxH"):
        parse_size("big", (10, 10))
    with pytest.raises(InputError, match="too small"):
        parse_size("8x8", (10, 10))


def test_fit_box_and_pad_hand_computed():
    # 100x50 into 64x64: scale 0.64 → 64x32, centred vertically at y=16.
    assert fit_box((100, 50), (64, 64)) == Box(0, 16, 64, 32)
    img = np.zeros((50, 100, 3), np.uint8)
    canvas, box = resize_and_pad(img, (64, 64), pad_value=255)
    assert canvas.shape == (64, 64, 3)
    assert (canvas[:16] == 255).all() and (canvas[48:] == 255).all()
    assert (box.crop(canvas) == 0).all()
