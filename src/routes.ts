// The HTTP surface of your services: one line per route. Input comes from the path (get) or the JSON body (post).
import type { TaskRouter } from './core/api/submit.js';
import maths from './services/maths.js';
import sleep from './services/sleep.js';

export function routes(task: TaskRouter): void {
  task.get('/sleep/:seconds', sleep);
  task.get('/math/:a/:b', maths);
  task.post('/math', maths);
}
