// The registry: every service the worker can run. Add one line per service.
import type { Service } from '../core/service/service.js';
import maths from './maths.js';
import sleep from './sleep.js';

export const services: readonly Service[] = [sleep, maths];
