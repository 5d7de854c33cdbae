// GET /tasks/:id/events against a real Redis and a real worker: the states as Server-Sent Events, to the final one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../../test/helpers.js';
import { taskEventsApp } from '../../../test/task-events-app.js';
import type { TaskStatus } from '../../client.js';

const { request: get, tasks, client, ready, close } = taskEventsApp();

beforeAll(() => ready);
afterAll(() => close());


describe('GET /tasks/:id/events', () => {
  it('streams the states and the progress, ending with the final state', async () => {
    const { task_id } = await client.submit('/sleep/2');
    const seen: TaskStatus[] = [];
    for await (const status of client.events(task_id)) seen.push(status);
    expect(seen.at(-1)).toMatchObject({ task_id, task_status: 'SUCCESS', task_result: 'slept 2 seconds', progress: 100 });
    expect(seen.slice(0, -1).every((s) => s.task_status === 'PENDING' || s.task_status === 'STARTED')).toBe(true);
    expect(seen.some((s) => s.task_status === 'STARTED' && s.progress === 50)).toBe(true);
    const progress = seen.map((s) => s.progress as number);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(tasks.events.listening).toBe(0);
  });

  it('gives a late client the current state first, then ends when it is final', async () => {
    const { task_id } = await client.submit('/math/1/2');
    await client.wait(task_id, { timeout: 30 });
    const seen: TaskStatus[] = [];
    for await (const status of client.events(task_id)) seen.push(status);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ task_status: 'SUCCESS', task_result: 103 });
  });

  it('answers 404 JSON to anyone but the owner', async () => {
    const { task_id } = await client.submit('/parked/6');
    const res = await get(`/tasks/${task_id}/events`, 'bob');
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ msg: 'no such task', status: 404 });
  });

  it('sends keep-alive comments while quiet, and "gone" when the task disappears', async () => {
    const { task_id } = await client.submit('/parked/7');
    const res = await get(`/tasks/${task_id}/events`);
    expect(res.headers.get('Content-Type')).toMatch(/^text\/event-stream/);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    while (!text.includes(': keep-alive')) text += (await reader.read()).value ?? '';
    expect(text).toMatch(/^event: status\ndata: \{.*"task_status":"PENDING"/);
    await tasks.queues.get('parked')!.remove(task_id);
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) text += chunk.value;
    expect(text).toContain('event: gone\ndata: {"msg":"no such task","status":404}');
    await eventually(async () => (tasks.events.listening === 0 ? true : undefined));
  });
});
