// Spot the fake: shows the round's faces one by one, asks real or fake, then
// shows the truth and the model's answer, and keeps the person's and the
// model's running scores. Every key has a button twin.

const ROUND_URL = 'game/round'; // relative: the page only talks to its own server
const ANSWER_URL = 'game/answer';
const faceUrl = (id) => `game/face/${encodeURIComponent(id)}`;

const body = document.body;
const statusLine = document.getElementById('status');
const board = document.getElementById('board');
const faceImage = document.getElementById('face');
const guessButtons = document.querySelectorAll('[data-guess]');
const reveal = document.getElementById('reveal');
const heatmap = document.getElementById('heatmap');
const nextButton = document.getElementById('next');
const finalBox = document.getElementById('final');

const round = { faces: [], index: 0, person: 0, model: 0, keep: false };

function text(id, value) {
  document.getElementById(id).textContent = value;
}

function setState(state) {
  body.dataset.state = state;
}

function showStatus(message, isError = false) {
  statusLine.textContent = message;
  statusLine.classList.toggle('error', isError);
}

async function getJson(url, init) {
  let response;
  try {
    response = await fetch(url, init);
  } catch {
    throw new Error('The server could not be reached; check that it is running.');
  }
  const answer = await response
    .json()
    .catch(() => ({ error: `The server answered ${response.status} without an explanation.` }));
  if (!response.ok) {
    throw new Error(answer.error);
  }
  return answer;
}

function showScore() {
  const done = round.index + (body.dataset.state === 'reveal' ? 1 : 0);
  const score = document.getElementById('score');
  score.dataset.person = round.person;
  score.dataset.model = round.model;
  score.textContent = `You ${round.person} of ${done} · the model ${round.model} of ${done}`;
}

function showFace() {
  setState('guess');
  reveal.hidden = true;
  heatmap.hidden = true;
  guessButtons.forEach((button) => {
    button.disabled = false;
  });
  text('progress', `Face ${round.index + 1} of ${round.faces.length}`);
  faceImage.src = faceUrl(round.faces[round.index]);
  showScore();
  guessButtons[0].focus();
}

async function startRound() {
  setState('loading');
  finalBox.hidden = true;
  showStatus('Drawing a round of faces…');
  let answer;
  try {
    answer = await getJson(ROUND_URL);
  } catch (error) {
    setState('unavailable');
    board.hidden = true;
    showStatus(error.message, true);
    return;
  }
  Object.assign(round, { faces: answer.faces, index: 0, person: 0, model: 0, keep: answer.keep_answers });
  text(
    'kept',
    round.keep
      ? 'This server keeps each answer (the face, your guess, the truth and the model’s score; nothing about you) to learn which faces fool people and the model.'
      : 'Your answers are not kept.',
  );
  showStatus('');
  board.hidden = false;
  showFace();
}

function modelLine(model) {
  if (model.score === null) {
    return model.verdict === 'no_face'
      ? 'The model found no face here, so it had no answer: a point to you if you were right.'
      : `The model could not read this image (${model.error}).`;
  }
  const percent = Math.round(model.score * 100);
  return `The model said ${model.guess} (${percent}% likely fake; fake from ${Math.round(model.threshold * 100)}%): ${model.right ? 'right' : 'wrong'}.`;
}

async function guess(choice) {
  if (body.dataset.state !== 'guess') {
    return;
  }
  setState('checking');
  guessButtons.forEach((button) => {
    button.disabled = true;
  });
  let answer;
  try {
    answer = await getJson(ANSWER_URL, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ face: round.faces[round.index], guess: choice }),
    });
  } catch (error) {
    showStatus(error.message, true);
    setState('guess');
    guessButtons.forEach((button) => {
      button.disabled = false;
    });
    return;
  }
  showStatus('');
  round.person += answer.person_right ? 1 : 0;
  round.model += answer.model.right ? 1 : 0;
  const truth = document.getElementById('truth');
  truth.textContent = `It is ${answer.truth}.`;
  truth.className = answer.person_right ? 'right' : 'wrong';
  truth.dataset.truth = answer.truth;
  text('you', `You said ${answer.guess}: ${answer.person_right ? 'right' : 'wrong'}.`);
  text('model', modelLine(answer.model));
  heatmap.hidden = !answer.model.heatmap;
  if (answer.model.heatmap) {
    heatmap.src = answer.model.heatmap;
  }
  setState('reveal');
  reveal.hidden = false;
  nextButton.textContent = '';
  nextButton.append(
    round.index + 1 < round.faces.length ? 'Next face ' : 'See the result ',
    Object.assign(document.createElement('kbd'), { textContent: 'N' }),
  );
  showScore();
  nextButton.focus();
}

function finish() {
  setState('done');
  board.hidden = true;
  finalBox.hidden = false;
  const n = round.faces.length;
  const finalScore = document.getElementById('final-score');
  finalScore.dataset.person = round.person;
  finalScore.dataset.model = round.model;
  finalScore.textContent = `You ${round.person} of ${n} · the model ${round.model} of ${n}`;
  text(
    'final-note',
    round.person > round.model
      ? 'You beat the model this round.'
      : round.person === round.model
        ? 'A draw with the model.'
        : 'The model beat you this round: fakes are hard to see.',
  );
  document.getElementById('again').focus();
}

function next() {
  if (body.dataset.state === 'reveal') {
    round.index += 1;
    if (round.index < round.faces.length) {
      showFace();
    } else {
      finish();
    }
  } else if (body.dataset.state === 'done') {
    startRound();
  }
}

guessButtons.forEach((button) => button.addEventListener('click', () => guess(button.dataset.guess)));
nextButton.addEventListener('click', next);
document.getElementById('again').addEventListener('click', next);

document.addEventListener('keydown', (event) => {
  if (event.altKey || event.ctrlKey || event.metaKey || event.repeat) {
    return;
  }
  // a focused button answers Enter and Space itself
  if (event.target instanceof HTMLButtonElement && (event.key === 'Enter' || event.key === ' ')) {
    return;
  }
  const key = event.key.toLowerCase();
  if (key === 'r' || key === 'f') {
    guess(key === 'r' ? 'real' : 'fake');
  } else if (key === 'n' || key === 'enter') {
    next();
  } else {
    return;
  }
  event.preventDefault();
});

startRound();
