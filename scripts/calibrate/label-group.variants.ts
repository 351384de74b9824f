import type { AudioClass } from '@app/contracts';

/**
 * Label groups compared per class under grouped cross-validation; the catalog's current group
 * is always a candidate too. AudioSet display names, checked against the model's labels.
 */
export const VARIANTS: Record<AudioClass, Record<string, string[]>> = {
  glass_break: {
    'glass-shatter-breaking': ['Glass', 'Shatter', 'Breaking'],
    '+smash': ['Glass', 'Shatter', 'Breaking', 'Smash, crash'],
    '+clink': ['Glass', 'Shatter', 'Breaking', 'Chink, clink'],
  },
  gunshot: {
    guns: ['Gunshot, gunfire', 'Machine gun', 'Fusillade', 'Artillery fire', 'Cap gun'],
    '+explosion': [
      'Gunshot, gunfire',
      'Machine gun',
      'Fusillade',
      'Artillery fire',
      'Cap gun',
      'Explosion',
    ],
  },
  scream: {
    'scream-shout-yell': ['Screaming', 'Shout', 'Yell'],
    '+bellow-battle-cry': ['Screaming', 'Shout', 'Yell', 'Bellow', 'Battle cry'],
    '+bellow-battle-cry-wail': ['Screaming', 'Shout', 'Yell', 'Bellow', 'Battle cry', 'Wail, moan'],
    // A pain yell is what a camera hears in an assault; both models often call it a groan.
    '+groan-wail': ['Screaming', 'Shout', 'Yell', 'Groan', 'Wail, moan'],
  },
  siren: {
    sirens: [
      'Siren',
      'Civil defense siren',
      'Police car (siren)',
      'Ambulance (siren)',
      'Fire engine, fire truck (siren)',
      'Emergency vehicle',
    ],
  },
  alarm: {
    alarms: ['Smoke detector, smoke alarm', 'Fire alarm', 'Alarm', 'Car alarm'],
    '+buzzer': ['Smoke detector, smoke alarm', 'Fire alarm', 'Alarm', 'Car alarm', 'Buzzer'],
  },
  dog_bark: {
    'dog-bark-bow-wow': ['Dog', 'Bark', 'Bow-wow'],
    '+growl-howl-canidae': [
      'Dog',
      'Bark',
      'Bow-wow',
      'Yip',
      'Growling',
      'Howl',
      'Canidae, dogs, wolves',
    ],
  },
  car_horn: {
    horns: ['Vehicle horn, car horn, honking', 'Air horn, truck horn', 'Toot'],
    '+train-horn-foghorn': [
      'Vehicle horn, car horn, honking',
      'Air horn, truck horn',
      'Toot',
      'Train horn',
      'Foghorn',
    ],
  },
  speech: {
    speech: [
      'Speech',
      'Male speech, man speaking',
      'Female speech, woman speaking',
      'Conversation',
      'Narration, monologue',
    ],
    '+child-speech': [
      'Speech',
      'Male speech, man speaking',
      'Female speech, woman speaking',
      'Child speech, kid speaking',
      'Conversation',
      'Narration, monologue',
    ],
  },
};
