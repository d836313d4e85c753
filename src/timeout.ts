// The one way the bot bounds a wait: whichever comes first, the work or the clock.

/**
 * Settles as `work` does, unless `ms` pass first: then as `late()` does (with what it returns,
 * or rejecting with what it throws). The work runs on and a later failure of it is swallowed;
 * the timer never outlives the race.
 */
export function withTimeout<T, L = never>(work: Promise<T>, ms: number, late: () => L): Promise<T | L> {
  work.catch(() => {});
  let timer: NodeJS.Timeout | undefined;
  const clock = new Promise<L>((resolve, reject) => {
    timer = setTimeout(() => {
      try {
        resolve(late());
      } catch (error) {
        reject(error);
      }
    }, ms);
  });
  return Promise.race([work, clock]).finally(() => clearTimeout(timer));
}
