"""The frame pipeline: grayscale, a fast downscaled pass, a full-resolution retry around candidates,
de-duplication across frames, and a stop on the first payload the caller's ``accept`` takes.

Built for a 30 fps camera on a small 2-core box: most frames cost one decode of a 640-pixel-wide
copy. Only when that finds nothing is the full-resolution frame tried: first around the places where
the decoder located a code it could not read; else the whole frame, when the measured cost of a
full pass still fits the frame budget (``budget_ms``, default 25 ms of the 33 ms a 30 fps camera
gives), otherwise only on every ``full_every``-th frame. So a small, distant or dense code is still
found, and a slow decoder (or a big frame) never makes the pipeline fall behind by more than that.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from drivers.camera.decoders import Decoded, Decoder

Accept = Callable[[str], bool]


def accept_any(text: str) -> bool:
    return bool(text)


def to_gray(frame: Any) -> Any:
    if frame.ndim == 2:
        return frame
    if frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2GRAY)
    return cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)


@dataclass
class FrameResult:
    accepted: str | None = None  # the first new payload ``accept`` took
    more: list[str] = field(default_factory=list)  # the frame's other new payloads (``every_code``)
    rejected: list[str] = field(default_factory=list)  # new codes ``accept`` refused
    texts: list[str] = field(default_factory=list)  # everything decoded in this frame
    full_res: bool = False  # whether the full-resolution retry ran
    ms: float = 0.0


@dataclass
class PipelineStats:
    frames: int = 0
    full_res: int = 0
    decoded: int = 0
    dropped: int = 0  # counted by the reader that feeds the pipeline
    busy_s: float = 0.0


class ScanPipeline:
    def __init__(
        self,
        *,
        decoder: Decoder,
        accept: Accept = accept_any,
        fast_width: int = 640,
        full_every: int = 3,
        dedup_s: float = 2.0,
        margin: float = 0.25,
        budget_ms: float = 25.0,
        clock: Callable[[], float] = time.monotonic,
        every_code: bool = False,
    ) -> None:
        self.decoder = decoder
        # a live reader stops on a frame's first payload (one sale, one payment); a scan of a
        # file reports every code in the frame (two QR codes side by side are two payloads)
        self.every_code = every_code
        self.accept = accept
        self.fast_width = fast_width
        self.full_every = max(1, full_every)
        self.dedup_s = dedup_s
        self.margin = margin
        self.budget_ms = budget_ms
        self._full_ms: float | None = None  # moving average of a full-resolution pass
        self.clock = clock
        self.stats = PipelineStats()
        self._seen: dict[str, float] = {}
        self._since_full = 0

    def decode_frame(self, frame: Any) -> tuple[list[str], bool]:
        """All texts in one frame, and whether the full-resolution retry ran."""
        gray = to_gray(frame)
        h, w = gray.shape[:2]
        if w <= self.fast_width * 1.25:
            return _texts(self.decoder.decode(gray)), False
        t0 = time.perf_counter()
        scale = w / self.fast_width
        small = cv2.resize(gray, (self.fast_width, max(1, round(h / scale))), interpolation=cv2.INTER_AREA)
        results = self.decoder.decode(small)
        fast_ms = (time.perf_counter() - t0) * 1000
        texts = _texts(results)
        if texts:
            self._since_full = 0
            return texts, False
        candidates = [r for r in results if not r.valid and r.points]
        if candidates:
            found: list[str] = []
            for c in candidates:
                roi = self._roi(gray, c.points, scale)
                if roi is not None:
                    found += _texts(self.decoder.decode(roi))
            if found:
                return found, True
        self._since_full += 1
        affordable = self._full_ms is None or fast_ms + self._full_ms <= self.budget_ms
        if affordable or self._since_full >= self.full_every:
            self._since_full = 0
            t1 = time.perf_counter()
            texts = _texts(self.decoder.decode(gray))
            ms = (time.perf_counter() - t1) * 1000
            self._full_ms = ms if self._full_ms is None else 0.8 * self._full_ms + 0.2 * ms
            return texts, True
        return [], bool(candidates)

    def _roi(self, gray: Any, points: tuple[tuple[float, float], ...], scale: float) -> Any:
        pts = np.array(points, dtype=np.float64) * scale
        x0, y0 = pts.min(axis=0)
        x1, y1 = pts.max(axis=0)
        pad = max(x1 - x0, y1 - y0) * self.margin + 8
        h, w = gray.shape[:2]
        xa, ya = max(0, int(x0 - pad)), max(0, int(y0 - pad))
        xb, yb = min(w, int(x1 + pad)), min(h, int(y1 + pad))
        if xb - xa < 21 or yb - ya < 21:  # smaller than the smallest QR code: nothing to retry
            return None
        return np.ascontiguousarray(gray[ya:yb, xa:xb])

    def process(self, frame: Any) -> FrameResult:
        started = time.perf_counter()
        texts, full = self.decode_frame(frame)
        result = FrameResult(texts=texts, full_res=full)
        now = self.clock()
        for text in dict.fromkeys(texts):  # in order, once each
            last = self._seen.get(text)
            self._seen[text] = now
            if last is not None and now - last < self.dedup_s:
                continue  # the same code still in view: already handled
            if self.accept(text):
                if result.accepted is None:
                    result.accepted = text
                else:
                    result.more.append(text)
                if not self.every_code:
                    break  # stop on the first payload the caller takes
            else:
                result.rejected.append(text)
        if len(self._seen) > 256:  # forget codes long out of view
            self._seen = {t: at for t, at in self._seen.items() if now - at < self.dedup_s}
        result.ms = (time.perf_counter() - started) * 1000
        self.stats.frames += 1
        self.stats.full_res += int(full)
        self.stats.decoded += int(bool(texts))
        self.stats.busy_s += result.ms / 1000
        return result


def _texts(results: list[Decoded]) -> list[str]:
    return [r.text for r in results if r.valid and r.text]
