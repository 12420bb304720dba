/**
 * A mistake in what the user asked for (an option, a config field). The CLI prints the message
 * without a stack trace and exits 2. The message names the option, the value and what is allowed.
 */
export class UserInputError extends Error {
  constructor(
    readonly option: string,
    readonly value: unknown,
    readonly allowed: string,
    detail?: string,
  ) {
    super(`${option}: ${detail ?? 'invalid value'} — got ${describeValue(value)}; allowed: ${allowed}`);
    this.name = 'UserInputError';
  }
}

export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value);
  try {
    const s = JSON.stringify(value);
    return s.length > 80 ? s.slice(0, 77) + '...' : s;
  } catch {
    return String(value);
  }
}

/** Checks a number option and throws a UserInputError naming it. */
export function checkNumber(
  option: string,
  value: unknown,
  range: { min?: number; max?: number; minExclusive?: boolean; maxExclusive?: boolean; integer?: boolean },
): number {
  const lo = range.min == null ? '' : `${range.min}${range.minExclusive ? ' <' : ' <='} `;
  const hi = range.max == null ? '' : ` ${range.maxExclusive ? '<' : '<='} ${range.max}`;
  const allowed = `${range.integer ? 'an integer' : 'a number'}${lo || hi ? ` with ${lo}${option}${hi}` : ''}`;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new UserInputError(option, value, allowed, 'not a finite number');
  if (range.integer && !Number.isInteger(value)) throw new UserInputError(option, value, allowed, 'not an integer');
  if (range.min != null && (range.minExclusive ? value <= range.min : value < range.min))
    throw new UserInputError(option, value, allowed, 'too small');
  if (range.max != null && (range.maxExclusive ? value >= range.max : value > range.max))
    throw new UserInputError(option, value, allowed, 'too large');
  return value;
}
