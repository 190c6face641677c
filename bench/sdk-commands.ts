import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import type { MiddlewareStack } from '@smithy/types';

/**
 * Calls `started(name)` as every SDK command this process sends starts (name: the command without
 * `Command`, PostToConnection as `post`), and the function it returns as the command resolves.
 * Every v3 client's commands share one base class, so patching it reaches the functions' own
 * clients too, which a bench cannot otherwise get at.
 */
export function onEverySdkCommand(middlewareName: string, started: (name: string) => () => void): void {
  let prototype = Object.getPrototypeOf(GetItemCommand.prototype);
  while (prototype && !Object.hasOwn(prototype, 'resolveMiddlewareWithContext')) prototype = Object.getPrototypeOf(prototype);
  const original = prototype.resolveMiddlewareWithContext as (...args: unknown[]) => unknown;
  prototype.resolveMiddlewareWithContext = function (this: { middlewareStack: MiddlewareStack<any, any> }, ...args: unknown[]) {
    const { commandName } = args[3] as { commandName: string };
    const name = commandName.replace(/Command$/, '').replace('PostToConnection', 'post');
    this.middlewareStack.add(
      (next) => async (input) => {
        const done = started(name);
        try {
          return await next(input);
        } finally {
          done();
        }
      },
      { step: 'initialize', name: middlewareName, priority: 'high', override: true },
    );
    return original.apply(this, args);
  };
}
