import { persistenceEnvSchema } from './persistence.module';

describe('persistenceEnvSchema', () => {
  it("defaults DATABASE_URL to the app's SQLite file under data/", () => {
    expect(persistenceEnvSchema('knowledge.sqlite').parse({})).toEqual({
      DATABASE_URL: 'sqlite:data/knowledge.sqlite',
    });
  });

  it('takes DATABASE_URL from the environment when set', () => {
    expect(persistenceEnvSchema('knowledge.sqlite').parse({ DATABASE_URL: 'postgres://db/k' })).toEqual({
      DATABASE_URL: 'postgres://db/k',
    });
  });
});
