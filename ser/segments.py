"""A long clip read as it was spoken: the lead reading's timeline windows merged into
segments ("0–3 s neutral, 3–7 s angry"), for the app and anything else that shows a take."""

from __future__ import annotations

from dataclasses import dataclass

from ser import config
from ser.inference import FUSED, ClipAnalysis, Prediction, WindowPrediction


@dataclass(frozen=True)
class Segment:
    start_s: float
    end_s: float
    label: str | None  # the lead reading's emotion; None where no speech was heard
    unsure: bool = False  # every window of the segment was an unsure reading


def shows_timeline(analysis: ClipAnalysis) -> bool:
    """Whether a clip is long enough for its timeline to say more than its whole-clip verdict."""
    return bool(analysis.timeline) and analysis.duration_s >= config.TIMELINE_MIN_S


def window_reading(window: WindowPrediction, lead: str) -> Prediction | None:
    """The reading ``lead`` (a model id or ``FUSED``) gives a window; None without speech."""
    return window.fused if lead == FUSED else window.models.get(lead)


def window_spans(analysis: ClipAnalysis) -> list[tuple[float, float]]:
    """Span (s) each timeline window stands for: from the midpoint with its left
    neighbour's centre to the midpoint with its right one's, so the overlapping
    windows tile the clip without overlapping."""
    centres = [(w.start_s + w.end_s) / 2 for w in analysis.timeline]
    edges = [analysis.timeline[0].start_s]
    edges += [(a + b) / 2 for a, b in zip(centres, centres[1:])]
    edges.append(analysis.timeline[-1].end_s)
    return list(zip(edges, edges[1:]))


def segments(analysis: ClipAnalysis) -> list[Segment]:
    """Neighbouring windows on which the lead reading names the same emotion, merged;
    empty for a clip without a timeline."""
    merged: list[Segment] = []
    for window, (start, end) in zip(analysis.timeline, window_spans(analysis)):
        reading = window_reading(window, analysis.lead)
        label = reading.label if reading else None
        unsure = bool(reading and reading.unsure)
        if merged and merged[-1].label == label:
            last = merged[-1]
            merged[-1] = Segment(last.start_s, end, label, last.unsure and unsure)
        else:
            merged.append(Segment(start, end, label, unsure))
    return merged


def segments_text(parts: list[Segment]) -> str:
    """"0–3 s neutral, 3–7 s angry (not sure), 7–9 s no speech"."""
    def span(segment: Segment) -> str:
        what = segment.label or "no speech"
        doubt = " (not sure)" if segment.unsure else ""
        return f"{segment.start_s:.0f}–{segment.end_s:.0f} s {what}{doubt}"
    return ", ".join(span(s) for s in parts)
