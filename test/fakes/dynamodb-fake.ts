import * as http from 'http';
import { LoopbackServer } from './loopback-server';

type Item = Record<string, { S: string }>;

/** Loopback DynamoDB (JSON 1.0) with what the API key table uses: GetItem, PutItem, UpdateItem (SET), Scan. */
export class DynamoDbFake extends LoopbackServer {
  readonly tables = new Map<string, Map<string, Item>>();

  protected async serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const input = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
    const operation = String(req.headers['x-amz-target']).split('.')[1];
    const table = this.tables.get(input.TableName) ?? new Map<string, Item>();
    this.tables.set(input.TableName, table);
    const reply = (status: number, body: object) => {
      res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0' });
      res.end(JSON.stringify(body));
    };
    const conditionFailed = () => reply(400, { __type: 'com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException', message: 'The conditional request failed' });
    switch (operation) {
      case 'GetItem': {
        const item = table.get(input.Key.keyId.S);
        return reply(200, item ? { Item: item } : {});
      }
      case 'PutItem':
        if (input.ConditionExpression && table.has(input.Item.keyId.S)) return conditionFailed();
        table.set(input.Item.keyId.S, input.Item);
        return reply(200, {});
      case 'UpdateItem': {
        const item = table.get(input.Key.keyId.S);
        if (!item) return conditionFailed();
        const [, attribute, value] = /SET (\w+) = (:\w+)/.exec(input.UpdateExpression)!;
        item[attribute] = input.ExpressionAttributeValues[value];
        return reply(200, {});
      }
      case 'Scan':
        return reply(200, { Items: [...table.values()], Count: table.size });
      default:
        return reply(400, { __type: 'UnknownOperationException', message: operation });
    }
  }
}
