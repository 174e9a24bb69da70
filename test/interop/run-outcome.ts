// Did a test file pass? (test/interop/run-dirs.ts removes its run folders only then.)

export interface TaskLike {
  type?: string;
  mode?: string;
  result?: { state?: string; errors?: unknown[] };
  tasks?: TaskLike[];
}

/** True when no test, hook or suite below `task` failed (a failing beforeAll fails its suite). */
export function passed(task: TaskLike): boolean {
  if (task.result?.state === "fail" || (task.result?.errors?.length ?? 0) > 0) return false;
  return (task.tasks ?? []).every(passed);
}
