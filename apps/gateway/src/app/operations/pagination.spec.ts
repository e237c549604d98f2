import { paginate } from './pagination';
import { RPC, RpcError } from './rpc.error';

const items = Array.from({ length: 7 }, (_, i) => `item-${i}`);

/** Every item, following nextCursor page after page. */
function walk(pageSize: number): string[][] {
  const pages: string[][] = [];
  let cursor: string | undefined;
  do {
    const { page, nextCursor } = paginate(items, cursor, pageSize);
    pages.push(page);
    cursor = nextCursor;
  } while (cursor !== undefined);
  return pages;
}

describe('paginate', () => {
  it('returns the first page and a cursor when there are more items', () => {
    const { page, nextCursor } = paginate(items, undefined, 3);
    expect(page).toEqual(['item-0', 'item-1', 'item-2']);
    expect(typeof nextCursor).toBe('string');
  });

  it('visits every item exactly once, in order, by following the cursors', () => {
    expect(walk(3)).toEqual([['item-0', 'item-1', 'item-2'], ['item-3', 'item-4', 'item-5'], ['item-6']]);
  });

  it('gives no cursor when the page ends exactly at the last item', () => {
    expect(walk(7)).toEqual([items]);
    expect(paginate(items, undefined, 7)).not.toHaveProperty('nextCursor');
  });

  it('returns an empty page without a cursor for an empty list', () => {
    expect(paginate([], undefined, 5)).toEqual({ page: [] });
  });

  it('returns an empty page for a cursor past the end', () => {
    const pastTheEnd = Buffer.from(JSON.stringify({ o: 100 })).toString('base64url');
    expect(paginate(items, pastTheEnd, 3)).toEqual({ page: [] });
  });

  it.each([
    ['not base64 JSON', '!!!'],
    ['a negative offset', Buffer.from(JSON.stringify({ o: -1 })).toString('base64url')],
    ['a fractional offset', Buffer.from(JSON.stringify({ o: 1.5 })).toString('base64url')],
    ['a string offset', Buffer.from(JSON.stringify({ o: '3' })).toString('base64url')],
    ['no offset', Buffer.from(JSON.stringify({})).toString('base64url')],
    ['JSON null', Buffer.from('null').toString('base64url')],
  ])('rejects a cursor with %s as Invalid params', (_what, cursor) => {
    let error: unknown;
    try {
      paginate(items, cursor, 3);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(RpcError);
    expect(error).toMatchObject({ code: RPC.InvalidParams, message: 'Invalid cursor' });
  });
});
