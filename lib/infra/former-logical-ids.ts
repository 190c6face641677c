import { Names, type CfnElement, type Stack } from 'aws-cdk-lib';
import { Construct, type IConstruct } from 'constructs';

/**
 * Logical ids as they were when one construct held every resource of the stack.
 *
 * Until the stack was split into capability constructs, every resource sat under one construct,
 * `Realtime` (`Herald/Realtime/ConnectionsTable`, `Herald/Realtime/WsAck/Function`...). CDK
 * derives a logical id from the whole construct path below the stack, hashed, so putting a
 * capability construct in between (`Herald/Data/ConnectionsTable`) changes every id below it, and
 * CloudFormation replaces a resource whose logical id changes: a new, empty table, bucket, user
 * pool or link key, the old one retained or deleted. Overriding the id of each resource by hand
 * would mean an override on every one of them, so the stack allocates ids by this one rule
 * instead: an element under a capability construct registered with `keep` gets the id its path
 * would have had with the former scope's id (`Realtime`) in place of the capability's.
 *
 * CDK names two constructs after another construct's unique id, which is path-derived too: a
 * DynamoDB stream's event-source mapping after its table (`DynamoDBEventSource:<table's unique
 * id>`) and the $connect authorizer's Lambda permission after the authorizer. Such an embedded id
 * is rewritten the same way. test/infra/logical-ids.test.ts checks the result against every id
 * the stack had (test/infra/logical-ids.json).
 */
export class FormerLogicalIds {
  private readonly capabilityIds = new Set<string>();
  /** Logical id -> the path of the element it went to, so two elements can never share one. */
  private readonly allocated = new Map<string, string>();

  constructor(
    private readonly stack: Stack,
    private readonly formerScopeId: string,
  ) {}

  /** Registers a capability construct's id (before the construct is built); returns the id. */
  public keep(capabilityId: string): string {
    this.capabilityIds.add(capabilityId);
    return capabilityId;
  }

  /** The former logical id of `element`, or undefined when it is not under a kept capability. */
  public allocate(element: CfnElement): string | undefined {
    const below = this.belowStack(element);
    const [capability, ...rest] = below;
    if (capability === undefined || !this.capabilityIds.has(capability)) return undefined;
    const id = uniqueId([this.formerScopeId, ...rest.map((component) => this.formerComponent(component))]);
    const path = element.node.path;
    const previous = this.allocated.get(id);
    if (previous !== undefined && previous !== path) {
      throw new Error(`Logical id ${id} would go to both ${previous} and ${path}: two capability constructs hold a construct of the same id.`);
    }
    this.allocated.set(id, path);
    return id;
  }

  /** The ids of the scopes between the stack and `construct`, the construct's own included. */
  private belowStack(construct: IConstruct): string[] {
    const scopes = construct.node.scopes;
    return scopes.slice(scopes.indexOf(this.stack) + 1).map((scope) => scope.node.id);
  }

  /** `component` with a construct's current unique id, when it embeds one, replaced by its former one. */
  private formerComponent(component: string): string {
    for (const capabilityId of this.capabilityIds) {
      const capability = this.stack.node.tryFindChild(capabilityId);
      if (capability === undefined) continue;
      // Every unique id under the capability starts with the capability's own, less its hash.
      const prefix = Names.nodeUniqueId(capability.node).slice(0, -8);
      if (!component.includes(prefix)) continue;
      for (const construct of capability.node.findAll()) {
        const current = Names.nodeUniqueId(construct.node);
        if (!component.includes(current)) continue;
        const above = construct.node.scopes.slice(1, construct.node.scopes.indexOf(this.stack) + 1).map((scope) => scope.node.id);
        const [, ...rest] = this.belowStack(construct);
        return component.replace(current, uniqueId([...above, this.formerScopeId, ...rest]));
      }
    }
    return component;
  }
}

/**
 * CDK's unique id of a construct path (the same as `Stack.allocateLogicalId` gives an element
 * at that path below the stack), computed by CDK itself on a throwaway tree of that path.
 */
function uniqueId(components: readonly string[]): string {
  let scope = new Construct(undefined as never, '');
  for (const component of components) scope = new Construct(scope, component);
  return Names.nodeUniqueId(scope.node);
}
