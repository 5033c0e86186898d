import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PartitionResumes } from '../src/partition-resumes.js';

describe('PartitionResumes', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('resumes a paused partition when its delay is over, once', () => {
    const resumes = new PartitionResumes();
    const resume = vi.fn();
    resumes.after(5_000, resume);
    vi.advanceTimersByTime(4_999);
    expect(resume).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(resume).toHaveBeenCalledTimes(1);
    resumes.resumeAll();
    vi.advanceTimersByTime(60_000);
    expect(resume).toHaveBeenCalledTimes(1);
  });

  it('a membership change resumes every paused partition at once, so one handed back to this member does not sit idle for the rest of its old delay', () => {
    const resumes = new PartitionResumes();
    const first = vi.fn();
    const second = vi.fn();
    resumes.after(15_000, first);
    resumes.after(3_000, second);
    resumes.resumeAll();
    expect(first).toHaveBeenCalledTimes(1);
    expect(second).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(60_000);
    expect(first).toHaveBeenCalledTimes(1);
    expect(second).toHaveBeenCalledTimes(1);
  });

  it('once closed, pending and later pauses are never resumed (the consumer is leaving)', () => {
    const resumes = new PartitionResumes();
    const pending = vi.fn();
    const later = vi.fn();
    resumes.after(1_000, pending);
    resumes.close();
    resumes.after(1_000, later);
    resumes.resumeAll();
    vi.advanceTimersByTime(60_000);
    expect(pending).not.toHaveBeenCalled();
    expect(later).not.toHaveBeenCalled();
    expect(vi.getTimerCount()).toBe(0);
  });
});
